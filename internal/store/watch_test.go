package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	// The same history, watched from every starting revision, with a window
	// large enough to hold it and with one so small that the start replays
	// the log from disk.
	history := func(t *testing.T, s *Store) {
		mustCreate(t, s, "/w/a", "1") // 1
		mustCreate(t, s, "/x/a", "1") // 2
		mustUpdate(t, s, "/w/a", "2") // 3
		mustCreate(t, s, "/w/b", "1") // 4
		mustDelete(t, s, "/w/a")      // 5
		mustCreate(t, s, "/w/a", "3") // 6
	}
	all := []struct {
		rev   int64
		event string
	}{
		{1, "CREATE /w/a=1@1/1"},
		{3, "UPDATE /w/a=2@1/3 prev /w/a=1@1/1"},
		{4, "CREATE /w/b=1@4/4"},
		{5, "DELETE /w/a=@1/5 prev /w/a=2@1/3"},
		{6, "CREATE /w/a=3@6/6"},
	}
	for _, window := range []int{2, 64} {
		for after := int64(0); after <= 6; after++ {
			t.Run(fmt.Sprintf("window %d after %d", window, after), func(t *testing.T) {
				s := openTest(t, Config{WatchWindow: window})
				history(t, s)
				w, err := s.Watch(context.Background(), "/w/", after)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Stop()
				var want []string
				for _, e := range all {
					if e.rev > after {
						want = append(want, e.event)
					}
				}
				// One more write proves the watcher went live after its replay.
				mustUpdate(t, s, "/w/b", "live")
				want = append(want, "UPDATE /w/b=live@4/7 prev /w/b=1@4/4")
				var got []string
				for _, ev := range collect(t, w, len(want)) {
					got = append(got, eventString(ev))
				}
				if !slices.Equal(got, want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
	}
}

// TestWatchersSeeEveryEventInOrder runs concurrent writers and several
// watchers started at different points; each must see a gap-free, ordered
// sequence of revisions.
func TestWatchersSeeEveryEventInOrder(t *testing.T) {
	s := openTest(t, Config{WatchWindow: 4096})
	const writers, each = 8, 100
	total := int64(writers * each)
	ctx := context.Background()
	var watchers []*Watcher
	starts := []int64{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				mustCreate(t, s, fmt.Sprintf("/o/%d/%d", w, i), "v")
			}
		})
		after := s.Revision()
		watcher, err := s.Watch(ctx, "/o/", after)
		if err != nil {
			t.Fatal(err)
		}
		defer watcher.Stop()
		watchers = append(watchers, watcher)
		starts = append(starts, after)
	}
	wg.Wait()
	for i, w := range watchers {
		evs := collect(t, w, int(total-starts[i]))
		for j, ev := range evs {
			if want := starts[i] + int64(j) + 1; ev.Revision() != want {
				t.Fatalf("watcher %d: event %d has revision %d, want %d", i, j, ev.Revision(), want)
			}
		}
	}
}

func TestSlowWatcherIsClosedAndWritersGoOn(t *testing.T) {
	// The window is wide enough that a reading consumer is never lapped,
	// however busy the machine; the one that never reads is.
	const window = 256
	s := openTest(t, Config{WatchWindow: window})
	ctx := context.Background()
	slow, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	fast, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Stop()
	const n = watchChanSize + window + 200
	got := make(chan int)
	go func() {
		count := 0
		for range fast.Events() {
			if count++; count == n {
				break
			}
		}
		got <- count
	}()
	// Nobody reads slow; the writes must still complete.
	for i := range n {
		mustCreate(t, s, fmt.Sprintf("/s/%d", i), "v")
	}
	if c := <-got; c != n {
		t.Fatalf("fast watcher got %d of %d events", c, n)
	}
	received := 0
	for range slow.Events() {
		received++
	}
	if !errors.Is(slow.Err(), ErrWatcherTooSlow) {
		t.Fatalf("slow watcher ended with %v after %d events, want ErrWatcherTooSlow", slow.Err(), received)
	}
	if received >= n {
		t.Fatalf("slow watcher received all %d events", received)
	}
}

func TestWatchFromCompactedRevision(t *testing.T) {
	s := openTest(t, Config{HistoryCount: 3})
	for i := range 10 {
		mustCreate(t, s, fmt.Sprintf("/c/%d", i), "v")
	}
	ctx := context.Background()
	if rev, err := s.Compact(ctx, time.Now()); err != nil || rev != 7 {
		t.Fatalf("Compact = %d, %v; want 7", rev, err)
	}
	if _, err := s.Watch(ctx, "/", 6); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch from 6: %v, want ErrCompacted", err)
	}
	w, err := s.Watch(ctx, "/", 7)
	if err != nil {
		t.Fatalf("watch from the compacted revision itself: %v", err)
	}
	defer w.Stop()
	if evs := collect(t, w, 3); evs[0].Revision() != 8 {
		t.Fatalf("first event at %d, want 8", evs[0].Revision())
	}
}

func TestWatchStopsWithContext(t *testing.T) {
	s := openTest(t, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	w, err := s.Watch(ctx, "/", 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range w.Events() {
	}
	if w.Err() != nil {
		t.Fatalf("Err after cancel = %v, want nil", w.Err())
	}
	if _, err := s.Watch(ctx, "/", -1); err == nil {
		t.Fatal("negative revision accepted")
	}
}

func TestWatcherProgress(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/a/1", "v") // 1
	w, err := s.Watch(context.Background(), "/a/", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if p := w.Progress(); p != 1 {
		t.Fatalf("progress at start = %d, want 1", p)
	}
	mustCreate(t, s, "/b/1", "v") // 2: not under the prefix
	mustCreate(t, s, "/a/2", "v") // 3
	mustCreate(t, s, "/b/2", "v") // 4
	collect(t, w, 1)
	// Events outside the prefix move the progress too, once looked at.
	deadline := time.Now().Add(10 * time.Second)
	for w.Progress() != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("progress = %d, want 4", w.Progress())
		}
		time.Sleep(time.Millisecond)
	}
}
