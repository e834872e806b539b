package garbagecollector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
)

// Defaults, as kube-controller-manager's.
const (
	DefaultWorkers        = 20
	DefaultDiscoverPeriod = 30 * time.Second
	// syncTimeout bounds the wait for the first full graph.
	syncTimeout = time.Minute
)

// DefaultIgnoredResources are never collected, as upstream's
// --gc-ignored-resources default: events expire on their own.
var DefaultIgnoredResources = []schema.GroupResource{
	{Group: "", Resource: "events"},
	{Group: "events.k8s.io", Resource: "events"},
}

// Config configures the collector.
type Config struct {
	Metadata  metadata.Interface
	Discovery discovery.DiscoveryInterface
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	// Workers per queue (default 20, as --concurrent-gc-syncs).
	Workers int
	// DiscoverPeriod is how often resources are rediscovered (default 30 s).
	DiscoverPeriod time.Duration
	// IgnoredResources are not watched (default DefaultIgnoredResources).
	IgnoredResources []schema.GroupResource
}

// GarbageCollector deletes dependents whose owners are gone.
type GarbageCollector struct {
	cfg      Config
	log      *slog.Logger
	recorder record.EventRecorder
	graph    *graph
	absent   *absentCache
	mapper   mapperHolder
	factory  metadatainformer.SharedInformerFactory

	attemptToDelete workqueue.TypedRateLimitingInterface[*node]
	attemptToOrphan workqueue.TypedRateLimitingInterface[*node]

	mu       sync.Mutex
	monitors map[schema.GroupVersionResource]cache.InformerSynced
}

// New checks the configuration; informers are made in Run, once the
// resources are discovered.
func New(cfg Config) (*GarbageCollector, error) {
	if cfg.Metadata == nil || cfg.Discovery == nil {
		return nil, errors.New("garbagecollector: Metadata and Discovery are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.DiscoverPeriod <= 0 {
		cfg.DiscoverPeriod = DefaultDiscoverPeriod
	}
	if cfg.IgnoredResources == nil {
		cfg.IgnoredResources = DefaultIgnoredResources
	}
	return &GarbageCollector{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "garbage-collector-controller"),
		recorder: cfg.Recorder,
		graph:    newGraph(),
		absent:   newAbsentCache(absentCacheSize),
		factory:  metadatainformer.NewSharedInformerFactory(cfg.Metadata, 0),
		attemptToDelete: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_delete"}),
		attemptToOrphan: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.DefaultTypedControllerRateLimiter[*node](),
			workqueue.TypedRateLimitingQueueConfig[*node]{Name: "garbage_collector_attempt_to_orphan"}),
		monitors: map[schema.GroupVersionResource]cache.InformerSynced{},
	}, nil
}

// Run discovers resources, builds the graph and collects until ctx ends.
func (gc *GarbageCollector) Run(ctx context.Context) error {
	defer gc.attemptToDelete.ShutDown()
	defer gc.attemptToOrphan.ShutDown()
	defer gc.factory.Shutdown()
	gc.log.Info("starting")
	// Discovery may fail while the API server is still coming up.
	for {
		err := gc.discover(ctx)
		if err == nil {
			break
		}
		gc.log.Warn("discovering resources failed; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	// Workers start on a complete graph, as upstream, so that a burst of
	// owners not yet listed does not cost a GET each. Decisions never
	// rest on the graph alone, so a resource that cannot be listed only
	// delays the start, it does not stop collection.
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), gc.synced()...)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if synced {
		gc.log.Info("graph synced")
	} else {
		gc.log.Warn("some resources did not sync; collecting anyway", "timeout", syncTimeout)
	}
	var wg sync.WaitGroup
	for range gc.cfg.Workers {
		wg.Go(func() { gc.worker(ctx, gc.attemptToDelete, gc.attemptToDeleteItem) })
		wg.Go(func() { gc.worker(ctx, gc.attemptToOrphan, gc.attemptToOrphanItem) })
	}
	ticker := time.NewTicker(gc.cfg.DiscoverPeriod)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			gc.attemptToDelete.ShutDown()
			gc.attemptToOrphan.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C:
			if err := gc.discover(ctx); err != nil {
				gc.log.Warn("rediscovering resources failed", "err", err)
			}
		}
	}
}

func (gc *GarbageCollector) synced() []cache.InformerSynced {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	out := make([]cache.InformerSynced, 0, len(gc.monitors))
	for _, s := range gc.monitors {
		out = append(out, s)
	}
	return out
}

// worker runs one queue's items through process until the queue shuts
// down.
func (gc *GarbageCollector) worker(ctx context.Context, q workqueue.TypedRateLimitingInterface[*node], process func(context.Context, *node) error) {
	for {
		n, quit := q.Get()
		if quit {
			return
		}
		if err := process(ctx, n); err != nil {
			if ctx.Err() == nil {
				gc.log.Warn("garbage collection failed; retrying", "item", n.id.String(), "err", err)
			}
			q.AddRateLimited(n)
		} else {
			q.Forget(n)
		}
		q.Done(n)
	}
}

func (id identity) String() string {
	return fmt.Sprintf("[%s/%s, namespace: %s, name: %s, uid: %s]", id.APIVersion, id.Kind, id.Namespace, id.Name, id.UID)
}
