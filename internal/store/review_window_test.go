package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestReviewBatchLargerThanWindowKillsFastWatcher: Config accepts a
// WatchWindow smaller than MaxBatch. One group commit then publishes more
// events than the ring holds and every live watcher is "lapped" at once and
// closed with ErrWatcherTooSlow, although its consumer reads continuously.
func TestReviewBatchLargerThanWindowKillsFastWatcher(t *testing.T) {
	s := openTest(t, Config{WatchWindow: 8}) // MaxBatch defaults to 512
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
