package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

var errBoom = errors.New("boom")

func fastQueue() Queue {
	return NewQueueWithLimiter("test", nil, workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, time.Millisecond))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func synced() []cache.InformerSynced { return []cache.InformerSynced{func() bool { return true }} }

// runUntil runs Run in the background and returns a stop function that
// cancels it and waits for it to return.
func runUntil(t *testing.T, q Queue, workers int, syncFn SyncFunc, opts ...Option) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, q, workers, synced(), syncFn, discard(), opts...) }()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
			return nil
		}
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		failures  int // sync fails this many times for the key
		opts      []Option
		wantCalls int
	}{
		{name: "success", failures: 0, wantCalls: 1},
		{name: "retries until success", failures: 3, wantCalls: 4},
		{name: "max retries drops the key", failures: 100, opts: []Option{MaxRetries(2)}, wantCalls: 3},
		{name: "error level option", failures: 1, opts: []Option{KeyName("thing"), ErrorLevel(func(error) slog.Level { return slog.LevelDebug })}, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fastQueue()
			var calls atomic.Int32
			settled := make(chan struct{})
			var once sync.Once
			syncFn := func(_ context.Context, key string) error {
				if key != "ns/a" {
					t.Errorf("key = %q, want ns/a", key)
				}
				n := int(calls.Add(1))
				if n == tt.wantCalls {
					once.Do(func() { close(settled) })
				}
				if n <= tt.failures {
					return errBoom
				}
				return nil
			}
			stop := runUntil(t, q, 2, syncFn, tt.opts...)
			q.Add("ns/a")
			select {
			case <-settled:
			case <-time.After(5 * time.Second):
				t.Fatalf("sync called %d times, want %d", calls.Load(), tt.wantCalls)
			}
			time.Sleep(20 * time.Millisecond) // a wrong extra retry would show here
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := int(calls.Load()); got != tt.wantCalls {
				t.Errorf("sync called %d times, want %d", got, tt.wantCalls)
			}
			if got := q.NumRequeues("ns/a"); got != 0 {
				t.Errorf("NumRequeues = %d after the key settled, want 0 (forgotten)", got)
			}
		})
	}
}

func TestRunWaitsForCachesAndOnSynced(t *testing.T) {
	q := fastQueue()
	var ready atomic.Bool
	var onSyncedRan atomic.Bool
	called := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, q, 1, []cache.InformerSynced{ready.Load}, func(context.Context, string) error {
			if !onSyncedRan.Load() {
				t.Error("a worker ran before OnSynced")
			}
			called <- struct{}{}
			return nil
		}, discard(), OnSynced(func(context.Context) error { onSyncedRan.Store(true); return nil }))
	}()
	q.Add("a")
	select {
	case <-called:
		t.Fatal("sync ran before the caches synced")
	case <-time.After(200 * time.Millisecond):
	}
	ready.Store(true)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("sync did not run after the caches synced")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !q.ShuttingDown() {
		t.Error("queue not shut down after Run returned")
	}
}

func TestRunOnSyncedError(t *testing.T) {
	err := Run(t.Context(), fastQueue(), 1, synced(), func(context.Context, string) error { return nil }, discard(),
		OnSynced(func(context.Context) error { return errBoom }))
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run = %v, want %v", err, errBoom)
	}
}

func TestRunUnsyncedReturnsNil(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	q := fastQueue()
	if err := Run(ctx, q, 1, []cache.InformerSynced{func() bool { return false }}, nil, discard()); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if !q.ShuttingDown() {
		t.Error("queue not shut down")
	}
}

func TestEnqueueHandler(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}
	tests := []struct {
		name  string
		event func(h cache.ResourceEventHandlerFuncs)
		want  string // "" for nothing queued
	}{
		{name: "add", event: func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(pod, false) }, want: "ns/a"},
		{name: "update queues the new object", event: func(h cache.ResourceEventHandlerFuncs) {
			h.OnUpdate(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "old"}}, pod)
		}, want: "ns/a"},
		{name: "delete", event: func(h cache.ResourceEventHandlerFuncs) { h.OnDelete(pod) }, want: "ns/a"},
		{name: "tombstone", event: func(h cache.ResourceEventHandlerFuncs) {
			h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/gone", Obj: pod})
		}, want: "ns/gone"},
		{name: "cluster object", event: func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(node, false) }, want: "n1"},
		{name: "no key", event: func(h cache.ResourceEventHandlerFuncs) { h.OnAdd("not an object", false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fastQueue()
			defer q.ShutDown()
			tt.event(EnqueueHandler(q))
			if tt.want == "" {
				if q.Len() != 0 {
					t.Fatalf("queue has %d keys, want none", q.Len())
				}
				return
			}
			if q.Len() != 1 {
				t.Fatalf("queue has %d keys, want 1", q.Len())
			}
			if key, _ := q.Get(); key != tt.want {
				t.Errorf("key = %q, want %q", key, tt.want)
			}
		})
	}
}

func TestObjectOf(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "a"}}
	tests := []struct {
		name   string
		obj    any
		wantOK bool
	}{
		{"object", pod, true},
		{"tombstone", cache.DeletedFinalStateUnknown{Key: "ns/a", Obj: pod}, true},
		{"tombstone of another kind", cache.DeletedFinalStateUnknown{Key: "n1", Obj: &corev1.Node{}}, false},
		{"another kind", &corev1.Node{}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ObjectOf[*corev1.Pod](tt.obj)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && got != pod {
				t.Errorf("got %v, want the pod", got)
			}
			if !ok && got != nil {
				t.Errorf("got %v with !ok, want nil", got)
			}
		})
	}
}
