package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

// TestReviewStressWatchListCompact runs writers, a compactor, watchers from
// random revisions and past-revision paged lists at once, and checks every
// watcher's stream and every list against the history the writers were
// acknowledged with.
func TestReviewStressWatchListCompact(t *testing.T) {
	for _, window := range []int{16, 600} {
		t.Run(fmt.Sprint("window ", window), func(t *testing.T) { reviewStress(t, window) })
	}
}

func reviewStress(t *testing.T, window int) {
	s := openTest(t, Config{WatchWindow: window, HistoryCount: 300})
	ctx := context.Background()
	type rec struct {
		typ   EventType
		key   string
		value string
	}
	var mu sync.Mutex
	hist := map[int64]rec{}
	stop := make(chan struct{})
	var writers sync.WaitGroup
	for w := range 8 {
		writers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("/s/%02d", r.IntN(40))
				val := fmt.Sprintf("w%d-%d", w, i)
				switch r.IntN(3) {
				case 0:
					kv, err := s.Create(ctx, key, []byte(val))
					if err == nil {
						mu.Lock()
						hist[kv.ModRevision] = rec{EventCreate, key, val}
						mu.Unlock()
					}
				case 1:
					kv, err := s.Update(ctx, key, []byte(val), 0)
					if err == nil {
						mu.Lock()
						hist[kv.ModRevision] = rec{EventUpdate, key, val}
						mu.Unlock()
					}
				case 2:
					_, rev, err := s.Delete(ctx, key, 0)
					if err == nil {
						mu.Lock()
						hist[rev] = rec{EventDelete, key, ""}
						mu.Unlock()
					}
				}
			}
		})
	}
	var comp sync.WaitGroup
	comp.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			s.Compact(ctx, time.Now())
			time.Sleep(time.Millisecond)
		}
	})
	type wres struct {
		after  int64
		prefix string
		evs    []Event
		err    error
	}
	var watchers sync.WaitGroup
	results := make(chan wres, 100000)
	type lres struct {
		rev int64
		kvs []KV
	}
	lists := make(chan lres, 100000)
	var readers sync.WaitGroup
	for g := range 6 {
		readers.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				cur := s.Revision()
				after := max(0, cur-int64(r.IntN(400)))
				prefix := []string{"/", "/s/0", "/s/1"}[r.IntN(3)]
				w, err := s.Watch(ctx, prefix, after)
				if err == nil {
					d := time.Duration(50+r.IntN(200)) * time.Millisecond
					watchers.Go(func() {
						var evs []Event
						tm := time.After(d)
					loop:
						for {
							select {
							case ev, ok := <-w.Events():
								if !ok {
									break loop
								}
								evs = append(evs, ev)
							case <-tm:
								w.Stop()
								for ev := range w.Events() {
									evs = append(evs, ev)
								}
								break loop
							}
						}
						results <- wres{after, prefix, evs, w.Err()}
					})
				} else if !errors.Is(err, ErrCompacted) {
					t.Error(err)
				}
				// A paged list at a past revision.
				if cur == 0 {
					continue
				}
				rev := max(1, cur-int64(r.IntN(300)))
				var all []KV
				opts := ListOptions{Revision: rev, Limit: int64(1 + r.IntN(7))}
				ok := true
				for {
					res, err := s.List(ctx, "/s/", opts)
					if err != nil {
						if !errors.Is(err, ErrCompacted) {
							t.Error(err)
						}
						ok = false
						break
					}
					all = append(all, res.KVs...)
					if res.Continue == "" {
						break
					}
					opts = ListOptions{Limit: opts.Limit, Continue: res.Continue}
				}
				if ok {
					lists <- lres{rev, all}
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	readers.Wait()
	watchers.Wait()
	close(stop)
	writers.Wait()
	comp.Wait()
	close(results)
	close(lists)

	revs := make([]int64, 0, len(hist))
	for r := range hist {
		revs = append(revs, r)
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] < revs[j] })
	for i, r := range revs {
		if r != int64(i+1) {
			t.Fatalf("acknowledged revisions not dense: %d at %d", r, i)
		}
	}
	nw := 0
	for res := range results {
		nw++
		if res.err != nil && !errors.Is(res.err, ErrCompacted) && !errors.Is(res.err, ErrWatcherTooSlow) {
			t.Errorf("watcher ended with %v", res.err)
		}
		want := res.after + 1
		for _, ev := range res.evs {
			for want < ev.Revision() && !hasPrefix(hist[want].key, res.prefix) {
				want++
			}
			if ev.Revision() != want {
				t.Fatalf("watch %q after %d: got revision %d, want %d", res.prefix, res.after, ev.Revision(), want)
			}
			h := hist[want]
			if ev.Type != h.typ || ev.KV.Key != h.key || string(ev.KV.Value) != h.value {
				t.Fatalf("watch after %d: revision %d is %v, want %+v", res.after, want, eventString(ev), h)
			}
			want++
		}
	}
	nl := 0
	for l := range lists {
		nl++
		model := map[string]string{}
		for r := int64(1); r <= l.rev; r++ {
			h := hist[r]
			if h.typ == EventDelete {
				delete(model, h.key)
			} else {
				model[h.key] = h.value
			}
		}
		got := map[string]string{}
		for _, kv := range l.kvs {
			if _, dup := got[kv.Key]; dup {
				t.Fatalf("list at %d: duplicate %s", l.rev, kv.Key)
			}
			got[kv.Key] = string(kv.Value)
		}
		if !maps.Equal(got, model) {
			t.Fatalf("list at %d: got %v want %v", l.rev, got, model)
		}
	}
	t.Logf("%d revisions, %d watchers, %d lists checked, compacted at %d", len(revs), nw, nl, s.CompactRevision())
}
