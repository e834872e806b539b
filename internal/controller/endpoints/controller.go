package endpoints

import (
	"context"
	"errors"
	"log/slog"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/endpointslice/endpointutil"

	"mini.dev/mini/internal/controller/reconcile"
)

// Upstream's limits: a service is retried this many times before it is
// dropped (a later change enqueues it again), and kube-controller-manager
// runs this many workers (--concurrent-endpoint-syncs).
const (
	maxRetries     = 15
	defaultWorkers = 5
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder records events on Endpoints (upstream's component name is
	// "endpoint-controller"); nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock times the retries; nil is the real clock.
	Clock clock.WithTicker
	// Workers is how many services are synced at once; 0 is upstream's 5.
	Workers int
}

// Controller keeps the Endpoints of selector services.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	workers  int

	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
	synced    []cache.InformerSynced

	queue   reconcile.Queue
	trigger *endpointutil.TriggerTimeTracker
	stale   *staleTracker
}

// New registers the controller's informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpoints controller: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	c := &Controller{
		client:   cfg.Client,
		recorder: cfg.Recorder,
		log:      cfg.Logger.With("component", "endpoint-controller"),
		workers:  cfg.Workers,
		queue:    reconcile.NewQueue("endpoint", cfg.Clock),
		trigger:  endpointutil.NewTriggerTimeTracker(),
		stale:    newStaleTracker(),
	}
	services := cfg.Informers.Core().V1().Services()
	pods := cfg.Informers.Core().V1().Pods()
	endpoints := cfg.Informers.Core().V1().Endpoints()
	c.services, c.pods, c.endpoints = services.Lister(), pods.Lister(), endpoints.Lister()

	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{services.Informer(), reconcile.EnqueueHandler(c.queue)},
		{pods.Informer(), endpointutil.PodHandler(c.services, c.queue, c.log)},
		// An Endpoints deleted by someone else is written again.
		{endpoints.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: c.enqueueObject}},
	}
	for _, r := range regs {
		if _, err := r.inf.AddEventHandler(r.h); err != nil {
			return nil, err
		}
		c.synced = append(c.synced, r.inf.HasSynced)
	}
	return c, nil
}

// Run syncs services until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.sync, c.log,
		reconcile.KeyName("service"), reconcile.MaxRetries(maxRetries),
		reconcile.ErrorLevel(func(error) slog.Level { return slog.LevelDebug }),
		reconcile.OnSynced(func(context.Context) error { c.enqueueLeftovers(); return nil }))
}

// enqueueLeftovers queues every existing Endpoints once at start: one
// whose service went while the controller was down is deleted by its
// sync. Leader-election records kept in Endpoints have no service and are
// left alone, as upstream.
func (c *Controller) enqueueLeftovers() {
	list, err := c.endpoints.List(labels.Everything())
	if err != nil {
		c.log.Warn("listing endpoints; orphaned endpoints will not be cleaned up", "err", err)
		return
	}
	for _, ep := range list {
		if _, ok := ep.Annotations[resourcelock.LeaderElectionRecordAnnotationKey]; ok {
			continue
		}
		c.enqueueObject(ep)
	}
}

func (c *Controller) enqueueObject(obj any) { reconcile.Enqueue(c.queue, obj) }
