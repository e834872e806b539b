package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// result is one workload's measurement: ops counted over elapsed wall time,
// and one latency per op (per watcher receipt for watch).
type result struct {
	ops     int
	elapsed time.Duration
	lat     []time.Duration // sorted
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// pct is the p-th percentile latency (nearest rank).
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func newResult(ops int, elapsed time.Duration, lats [][]time.Duration) result {
	all := slices.Concat(lats...)
	slices.Sort(all)
	return result{ops: ops, elapsed: elapsed, lat: all}
}

// runOps runs op for i in [0,n) on the given number of workers and times
// each call; the first error stops every worker.
func runOps(ctx context.Context, workers, n int, op func(ctx context.Context, i int) error) (result, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	lats := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		lats[w] = make([]time.Duration, 0, n/workers+1)
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				if err := op(ctx, i); err != nil {
					cancel(err)
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return result{}, err
	}
	return newResult(n, elapsed, lats), nil
}

// values is a pool of random values: random so that neither store gains from
// compression, pooled so that generating them is not part of the timing.
type values [][]byte

func newValues(size int) values {
	v := make(values, 256)
	for i := range v {
		v[i] = make([]byte, size)
		for j := range v[i] {
			v[i][j] = byte(rand.Uint32())
		}
	}
	return v
}

func (v values) at(i int) []byte { return v[i%len(v)] }

func key(phase string, n int) string { return fmt.Sprintf("/registry/bench/%s/%d", phase, n) }

// workload names, in table order.
const (
	wCreate1 = "create, 1 writer"
	wCreateN = "create, %d writers"
	wGet     = "get, %d readers"
	wList    = "list %d keys"
	wWatch   = "watch, %d watchers"
	wWatchE2 = "  write to event"
)

type sizes struct {
	seqCreates, writers, creates, readers, gets int
	listKeys, lists, watchers, watchEvents      int
	watchTimeout                                time.Duration
}

// runSuite runs every workload against b, in order, and returns the results
// under their table names.
func runSuite(ctx context.Context, name string, b backend, sz sizes, vals values) (map[string]result, error) {
	out := map[string]result{}
	step := func(label string, f func() (result, error)) error {
		t := time.Now()
		r, err := f()
		if err != nil {
			return fmt.Errorf("%s: %s: %w", name, label, err)
		}
		fmt.Fprintf(os.Stderr, "  %-5s %-22s %9.0f ops/s  (%.1fs)\n", name, label, r.rate(), time.Since(t).Seconds())
		out[label] = r
		return nil
	}
	creates := func(phase string, workers, n int) func() (result, error) {
		return func() (result, error) {
			return runOps(ctx, workers, n, func(ctx context.Context, i int) error {
				return b.create(ctx, key(phase, i), vals.at(i))
			})
		}
	}
	if err := step(wCreate1, creates("create1", 1, sz.seqCreates)); err != nil {
		return nil, err
	}
	if err := step(fmt.Sprintf(wCreateN, sz.writers), creates("create", sz.writers, sz.creates)); err != nil {
		return nil, err
	}
	// Gets read random keys the concurrent create phase just wrote.
	err := step(fmt.Sprintf(wGet, sz.readers), func() (result, error) {
		return runOps(ctx, sz.readers, sz.gets, func(ctx context.Context, _ int) error {
			return b.get(ctx, key("create", rand.IntN(sz.creates)))
		})
	})
	if err != nil {
		return nil, err
	}
	err = step(fmt.Sprintf(wList, sz.listKeys), func() (result, error) {
		keys := make([]string, sz.listKeys)
		for i := range keys {
			keys[i] = key("list", i)
		}
		if err := b.load(ctx, keys, vals.at); err != nil {
			return result{}, fmt.Errorf("load: %w", err)
		}
		return runOps(ctx, 1, sz.lists, func(ctx context.Context, _ int) error {
			n, err := b.list(ctx, "/registry/bench/list/")
			if err == nil && n != sz.listKeys {
				err = fmt.Errorf("listed %d keys, want %d", n, sz.listKeys)
			}
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	var endToEnd result
	err = step(fmt.Sprintf(wWatch, sz.watchers), func() (delivery result, err error) {
		delivery, endToEnd, err = watchBench(ctx, b, sz, vals)
		return delivery, err
	})
	out[wWatchE2] = endToEnd
	return out, err
}

// watchBench starts the watchers, then writes watchEvents keys one after the
// other; each value starts with its index. It returns two latencies per
// receipt. Delivery is measured from the moment the write was committed,
// known from outside as the earlier of the writer's acknowledgement and the
// first watcher's receipt; write-to-event is measured from before the write
// call, so it also holds the write's own fsync. Both rates are events
// delivered per second over all watchers, from the first send to the last
// receipt.
func watchBench(ctx context.Context, b backend, sz sizes, vals values) (delivery, endToEnd result, err error) {
	const prefix = "/registry/bench/watch/"
	wctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends every watcher
	base := time.Now()
	since := func() time.Duration { return time.Since(base) } // monotonic
	recv := make([][]time.Duration, sz.watchers)              // recv[w][i]: watcher w got event i
	firstRecv := make([]atomic.Int64, sz.watchEvents)
	var received atomic.Int64
	var all sync.WaitGroup
	all.Add(sz.watchers)
	failc := make(chan error, sz.watchers)
	for w := range sz.watchers {
		recv[w] = make([]time.Duration, sz.watchEvents)
		got := 0
		err := b.watch(wctx, prefix, func(val []byte) {
			at := since()
			i := int(binary.BigEndian.Uint64(val))
			if got == sz.watchEvents || i >= sz.watchEvents || recv[w][i] != 0 {
				select {
				case failc <- fmt.Errorf("watcher %d: unexpected or repeated event %d", w, i):
				default:
				}
				return
			}
			recv[w][i] = at
			firstRecv[i].CompareAndSwap(0, int64(at))
			received.Add(1)
			if got++; got == sz.watchEvents {
				all.Done()
			}
		}, func(err error) { failc <- err })
		if err != nil {
			return result{}, result{}, fmt.Errorf("watcher %d: %w", w, err)
		}
	}
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()

	sent := make([]time.Duration, sz.watchEvents)
	acked := make([]time.Duration, sz.watchEvents)
	start := time.Now()
	val := make([]byte, len(vals.at(0)))
	for i := range sz.watchEvents {
		copy(val, vals.at(i))
		binary.BigEndian.PutUint64(val, uint64(i))
		sent[i] = since()
		if err := b.create(ctx, key("watch", i), val); err != nil {
			return result{}, result{}, err
		}
		acked[i] = since()
	}
	want := int64(sz.watchers * sz.watchEvents)
	select {
	case <-done:
	case err := <-failc:
		return result{}, result{}, fmt.Errorf("watcher ended early: %w", err)
	case <-time.After(sz.watchTimeout):
		return result{}, result{}, fmt.Errorf("received %d of %d events within %v of the last write", received.Load(), want, sz.watchTimeout)
	case <-ctx.Done():
		return result{}, result{}, ctx.Err()
	}
	elapsed := time.Since(start)
	deliveryLat := make([][]time.Duration, sz.watchers)
	endToEndLat := make([][]time.Duration, sz.watchers)
	for w := range recv {
		for i, at := range recv[w] {
			committed := min(acked[i], time.Duration(firstRecv[i].Load()))
			deliveryLat[w] = append(deliveryLat[w], at-committed)
			endToEndLat[w] = append(endToEndLat[w], at-sent[i])
		}
	}
	return newResult(int(want), elapsed, deliveryLat), newResult(int(want), elapsed, endToEndLat), nil
}
