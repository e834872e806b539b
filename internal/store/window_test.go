package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestWatchWindowSmallerThanBatch: one group commit must never publish
// more events than the ring holds, or it would lap every watcher at once,
// however fast its consumer reads.
func TestWatchWindowSmallerThanBatch(t *testing.T) {
	for _, window := range []int{1, 2, 8, 1023} {
		if got := (Config{WatchWindow: window}).withDefaults().MaxBatch; got < 1 || got > max(1, window/2) {
			t.Errorf("window %d allows batches of %d", window, got)
		}
	}
	// Batches of up to 4096 are asked for, but capped at half the window,
	// so a consumer that reads continuously is never lapped.
	s := openTest(t, Config{WatchWindow: 1024, MaxBatch: 4096})
	w, err := s.Watch(context.Background(), "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	received := 0
	done := make(chan error)
	go func() {
		for range w.Events() { // a consumer that never stalls
			received++
		}
		done <- w.Err()
	}()
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 20 {
				if _, err := s.Create(context.Background(), fmt.Sprintf("/k/%d/%d", g, i), []byte("v")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	w.Stop()
	err = <-done
	if errors.Is(err, ErrWatcherTooSlow) {
		t.Fatalf("a continuously-read watcher was closed as too slow after %d of %d events (%d commits): %v",
			received, st.Writes, st.Commits, err)
	}
}
