package cli

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The collector's target: leaner while the live heap is small (a laptop
// cluster, where memory is what the user notices and a collection costs
// little), Go's default once it is large (thousands of objects, where
// more frequent collections would cost real CPU).
const (
	leanGCPercent    = 50
	defaultGCPercent = 100
	leanHeapLimit    = 256 << 20 // live heap below which the lean target holds
	gcTunePeriod     = 5 * time.Second
)

// tuneGC adjusts the GC percent to the live heap until ctx ends.
func tuneGC(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := -1
	t := time.NewTicker(gcTunePeriod)
	defer t.Stop()
	for {
		metrics.Read(sample)
		want := defaultGCPercent
		if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() < leanHeapLimit {
			want = leanGCPercent
		}
		if want != current {
			debug.SetGCPercent(want)
			current = want
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
