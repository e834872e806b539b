package store

import (
	"context"
	"runtime"
	"testing"
)

// TestListValuesDoNotPinLargeBlocks: List copies values into shared
// blocks; a caller that keeps one small KV from a short page must not pin
// a large block.
func TestListValuesDoNotPinLargeBlocks(t *testing.T) {
	s := openTest(t, Config{})
	mustCreate(t, s, "/r/a", "0123456789abcdef") // 16 bytes
	const n = 200
	kept := make([]KV, 0, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		res, err := s.List(context.Background(), "/r/", ListOptions{Limit: 1})
		if err != nil || len(res.KVs) != 1 {
			t.Fatal(err)
		}
		kept = append(kept, res.KVs[0])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	perKV := retained / n
	runtime.KeepAlive(kept)
	if perKV > 4<<10 {
		t.Fatalf("keeping %d 16-byte values from List retains %d KiB of heap (%d bytes per KV)", n, retained>>10, perKV)
	}
}

// TestIdleWatcherReleasesDeliveredEvents: an idle watcher must not keep
// the events it has delivered (values and previous values replayed from
// disk) reachable.
func TestIdleWatcherReleasesDeliveredEvents(t *testing.T) {
	s := openTest(t, Config{WatchWindow: 4})
	big := make([]byte, 64<<10)
	mustCreate(t, s, "/big", "x")
	for range 200 {
		if _, err := s.Update(context.Background(), "/big", big, 0); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	w, err := s.Watch(context.Background(), "/", 0) // replays 201 events from the log
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	collect(t, w, 201) // consumer drops every event
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if retained > 4<<20 {
		t.Fatalf("an idle watcher whose events were all consumed retains %d MiB", retained>>20)
	}
}
