package reconcile

import (
	"context"
	"log/slog"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// Queue is a controller's queue of namespace/name (or name) keys.
type Queue = workqueue.TypedRateLimitingInterface[string]

// SyncFunc brings one key's state to what its spec asks for. An error
// puts the key back on the queue, rate limited.
type SyncFunc = func(ctx context.Context, key string) error

// NewQueue returns a queue with client-go's default controller rate
// limiter (per-item exponential backoff from 5ms to 1000s, and an
// overall token bucket). A nil clk is the real clock.
func NewQueue(name string, clk clock.WithTicker) Queue {
	return NewQueueWithLimiter(name, clk, workqueue.DefaultTypedControllerRateLimiter[string]())
}

// NewQueueWithLimiter is NewQueue with a controller's own rate limiter.
func NewQueueWithLimiter(name string, clk clock.WithTicker, limiter workqueue.TypedRateLimiter[string]) Queue {
	cfg := workqueue.TypedRateLimitingQueueConfig[string]{Name: name}
	if clk != nil {
		cfg.Clock = clk
	}
	return workqueue.NewTypedRateLimitingQueueWithConfig(limiter, cfg)
}

// Option tunes Run and Work.
type Option func(*options)

type options struct {
	keyName    string
	maxRetries int
	level      func(error) slog.Level
	onSynced   func(context.Context) error
}

// KeyName is the log attribute that names the key in failure logs, for
// example "deployment" or "namespace"; the default is "key".
func KeyName(name string) Option { return func(o *options) { o.keyName = name } }

// MaxRetries drops a key, with a warning, once it has been requeued n
// times in a row without a successful sync; the next event enqueues it
// again. The default, 0, retries forever.
func MaxRetries(n int) Option { return func(o *options) { o.maxRetries = n } }

// ErrorLevel chooses the level a failed sync is logged at before its
// retry; the default is Warn for every error.
func ErrorLevel(f func(error) slog.Level) Option { return func(o *options) { o.level = f } }

// OnSynced runs f once the caches have synced, before any worker starts;
// an error from f is returned by Run.
func OnSynced(f func(context.Context) error) Option {
	return func(o *options) { o.onSynced = f }
}

// ConflictsAtDebug is an ErrorLevel for controllers that write from a
// cache: a conflict only means the cache was stale, and the retry reads a
// fresh one, so it is logged at Debug; other errors at Info.
func ConflictsAtDebug(err error) slog.Level {
	if apierrors.IsConflict(err) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

func newOptions(opts []Option) *options {
	o := &options{keyName: "key", level: func(error) slog.Level { return slog.LevelWarn }}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// Run waits for synced, then runs workers goroutines (at least one)
// calling sync for each key until ctx ends. It then shuts the queue down
// and returns once every worker has finished its current key. It returns
// nil if ctx ends before the caches sync.
func Run(ctx context.Context, q Queue, workers int, synced []cache.InformerSynced, syncFn SyncFunc, log *slog.Logger, opts ...Option) error {
	defer utilruntime.HandleCrash()
	defer q.ShutDown()
	o := newOptions(opts)
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return nil
	}
	if o.onSynced != nil {
		if err := o.onSynced(ctx); err != nil {
			return err
		}
	}
	workers = max(workers, 1)
	log.Info("started", "workers", workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { work(ctx, q, syncFn, log, o) })
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
	return nil
}

// Work is one worker: it syncs keys from q until q shuts down. It is for
// controllers that run more than one queue and so cannot use Run.
func Work(ctx context.Context, q Queue, syncFn SyncFunc, log *slog.Logger, opts ...Option) {
	work(ctx, q, syncFn, log, newOptions(opts))
}

func work(ctx context.Context, q Queue, syncFn SyncFunc, log *slog.Logger, o *options) {
	for processNext(ctx, q, syncFn, log, o) {
	}
}

func processNext(ctx context.Context, q Queue, syncFn SyncFunc, log *slog.Logger, o *options) bool {
	key, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(key)
	err := syncFn(ctx, key)
	switch {
	case err == nil:
		q.Forget(key)
	case o.maxRetries > 0 && q.NumRequeues(key) >= o.maxRetries:
		log.Warn("sync failed too often; dropping the key from the queue", o.keyName, key, "err", err)
		q.Forget(key)
	default:
		log.Log(ctx, o.level(err), "sync failed; retrying", o.keyName, key, "err", err)
		q.AddRateLimited(key)
	}
	return true
}

// Enqueue adds obj's key to q: namespace/name, or name for a cluster
// object, and the key of the object a deletion tombstone stands for. An
// object without a key is skipped.
func Enqueue(q Queue, obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		q.Add(key)
	}
}

// EnqueueHandler enqueues an object's key on every add, update and
// delete, for the informer of the kind a controller syncs.
func EnqueueHandler(q Queue) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { Enqueue(q, obj) },
		UpdateFunc: func(_, obj any) { Enqueue(q, obj) },
		DeleteFunc: func(obj any) { Enqueue(q, obj) },
	}
}

// ObjectOf returns the T an informer notification carries: obj itself, or
// the last known state in the tombstone a delete notification brings when
// the watch missed the deletion. It reports false for anything else.
func ObjectOf[T any](obj any) (T, bool) {
	if o, ok := obj.(T); ok {
		return o, true
	}
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		o, ok := tomb.Obj.(T)
		return o, ok
	}
	var zero T
	return zero, false
}
