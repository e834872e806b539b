package endpointslice

import (
	"context"
	"errors"
	"log/slog"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/endpointslice/endpointutil"

	"mini.dev/mini/internal/controller/reconcile"
)

const (
	// ControllerName is the value of endpointslice.kubernetes.io/managed-by
	// on the slices this controller writes; slices managed by anyone else
	// are never touched.
	ControllerName = "endpointslice-controller.k8s.io"
	// MaxEndpointsPerSlice is upstream's default
	// (--max-endpoints-per-slice).
	MaxEndpointsPerSlice = 100

	// Upstream's retry policy: exponential from 1 s to 1000 s, at most 15
	// times; its 5 workers (--concurrent-service-endpoint-syncs).
	minSyncBackoff = time.Second
	maxSyncBackoff = 1000 * time.Second
	maxRetries     = 15
	defaultWorkers = 5
	// sliceChangeDelay batches the slice events that follow one sync's
	// own writes (upstream's endpointSliceChangeMinSyncDelay).
	sliceChangeDelay = time.Second
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder records events on Services (upstream's component name is
	// "endpoint-slice-controller"); nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock times retries and delays; nil is the real clock.
	Clock clock.WithTicker
	// MaxEndpointsPerSlice: 0 is upstream's 100.
	MaxEndpointsPerSlice int
	// Workers is how many services are synced at once; 0 is upstream's 5.
	Workers int
}

// Controller keeps the EndpointSlices of selector services.
type Controller struct {
	client               kubernetes.Interface
	recorder             record.EventRecorder
	log                  *slog.Logger
	workers              int
	maxEndpointsPerSlice int

	services corelisters.ServiceLister
	pods     corelisters.PodLister
	nodes    corelisters.NodeLister
	slices   discoverylisters.EndpointSliceLister
	synced   []cache.InformerSynced

	queue   reconcile.Queue
	trigger *endpointutil.TriggerTimeTracker
	tracker *tracker
}

// New registers the controller's informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("endpointslice controller: Client and Informers are required")
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
	if cfg.MaxEndpointsPerSlice <= 0 {
		cfg.MaxEndpointsPerSlice = MaxEndpointsPerSlice
	}
	if cfg.Workers <= 0 {
		cfg.Workers = defaultWorkers
	}
	c := &Controller{
		client:               cfg.Client,
		recorder:             cfg.Recorder,
		log:                  cfg.Logger.With("component", "endpointslice-controller"),
		workers:              cfg.Workers,
		maxEndpointsPerSlice: cfg.MaxEndpointsPerSlice,
		queue: reconcile.NewQueueWithLimiter("endpoint_slice", cfg.Clock,
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](minSyncBackoff, maxSyncBackoff)),
		trigger: endpointutil.NewTriggerTimeTracker(),
		tracker: newTracker(),
	}
	services := cfg.Informers.Core().V1().Services()
	pods := cfg.Informers.Core().V1().Pods()
	nodes := cfg.Informers.Core().V1().Nodes()
	slices := cfg.Informers.Discovery().V1().EndpointSlices()
	c.services, c.pods, c.nodes, c.slices = services.Lister(), pods.Lister(), nodes.Lister(), slices.Lister()

	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{services.Informer(), reconcile.EnqueueHandler(c.queue)},
		{pods.Informer(), endpointutil.PodHandler(c.services, c.queue, c.log)},
		// Nodes only feed zones; no handler, as upstream without topology
		// hints.
		{nodes.Informer(), cache.ResourceEventHandlerFuncs{}},
		{slices.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addSlice,
			UpdateFunc: c.updateSlice,
			DeleteFunc: c.deleteSlice,
		}},
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
		reconcile.KeyName("service"), reconcile.MaxRetries(maxRetries), reconcile.ErrorLevel(syncErrorLevel))
}

// syncErrorLevel logs a sync that only found the informer cache behind the
// controller's own writes at Debug: the retry will see them.
func syncErrorLevel(err error) slog.Level {
	if errors.Is(err, errStaleCache) {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// managed reports whether this controller manages the slice.
func managed(s *discoveryv1.EndpointSlice) bool {
	return s.Labels[discoveryv1.LabelManagedBy] == ControllerName
}

// addSlice syncs the service of a managed slice this controller did not
// write (or wrote an older generation of).
func (c *Controller) addSlice(obj any) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if ok && managed(s) && c.tracker.shouldSync(s) {
		c.enqueueSliceService(s)
	}
}

func (c *Controller) updateSlice(oldObj, newObj any) {
	prev, ok1 := oldObj.(*discoveryv1.EndpointSlice)
	s, ok2 := newObj.(*discoveryv1.EndpointSlice)
	if !ok1 || !ok2 {
		return
	}
	// Labels do not bump the generation: someone moving a slice to
	// another service, or taking it from this controller, needs a sync of
	// both sides.
	if prev.Labels[discoveryv1.LabelServiceName] != s.Labels[discoveryv1.LabelServiceName] || managed(prev) != managed(s) {
		c.enqueueSliceService(prev)
		c.enqueueSliceService(s)
		return
	}
	if managed(s) && c.tracker.shouldSync(s) {
		c.enqueueSliceService(s)
	}
}

// deleteSlice syncs the service of a managed slice deleted by someone
// else, so it is written again.
func (c *Controller) deleteSlice(obj any) {
	s, ok := reconcile.ObjectOf[*discoveryv1.EndpointSlice](obj)
	if !ok || !managed(s) {
		return
	}
	if !c.tracker.has(s) || !c.tracker.handleDeletion(s) {
		c.enqueueSliceService(s)
	}
}

func (c *Controller) enqueueSliceService(s *discoveryv1.EndpointSlice) {
	name := s.Labels[discoveryv1.LabelServiceName]
	if name == "" {
		return
	}
	c.queue.AddAfter(s.Namespace+"/"+name, sliceChangeDelay)
}
