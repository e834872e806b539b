package daemonset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/owned"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger     // nil: discard
	Clock     clock.WithTicker // nil: real time
	// Workers is how many daemon sets are synced at once (0: 2).
	Workers int
}

var controllerKind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

const (
	// burstReplicas caps creations and deletions per sync, as upstream.
	burstReplicas = 250
	// backoffGCInterval is how often stale failed-pod backoffs are dropped.
	backoffGCInterval = time.Minute
)

// Controller keeps one daemon pod on every eligible node.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	workers  int

	dsLister   appslisters.DaemonSetLister
	revLister  appslisters.ControllerRevisionLister
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	synced     []cache.InformerSynced

	queue        reconcile.Queue
	expectations *owned.Expectations
	// failedBackoff spaces out the deletion of failed pods per set and
	// node: a kubelet that keeps rejecting a pod must not make us hot-loop.
	failedBackoff *flowcontrol.Backoff
	// deleting remembers, per set, the pods we asked to delete, so a
	// deletion is observed once however many events announce it.
	mu       sync.Mutex
	deleting map[string]map[string]bool
}

// New builds the controller and registers its informer event handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("daemonset controller: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	c := &Controller{
		client:        cfg.Client,
		recorder:      cfg.Recorder,
		log:           cfg.Logger.With("component", "daemonset-controller"),
		clock:         cfg.Clock,
		workers:       cfg.Workers,
		queue:         reconcile.NewQueue("daemonset", cfg.Clock),
		expectations:  owned.NewExpectations(cfg.Clock),
		failedBackoff: flowcontrol.NewFakeBackOff(time.Second, 15*time.Minute, cfg.Clock),
		deleting:      map[string]map[string]bool{},
	}
	apps, core := cfg.Informers.Apps().V1(), cfg.Informers.Core().V1()
	dsInf, revInf, podInf, nodeInf := apps.DaemonSets(), apps.ControllerRevisions(), core.Pods(), core.Nodes()
	c.dsLister, c.revLister, c.podLister, c.nodeLister = dsInf.Lister(), revInf.Lister(), podInf.Lister(), nodeInf.Lister()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.enqueue,
			UpdateFunc: func(_, cur any) { c.enqueue(cur) },
			DeleteFunc: c.deleteDaemonSet,
		}},
		{revInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.revisionChanged,
			UpdateFunc: func(_, cur any) { c.revisionChanged(cur) },
			DeleteFunc: c.revisionChanged,
		}},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addPod,
			UpdateFunc: c.updatePod,
			DeleteFunc: c.deletePod,
		}},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.addNode,
			UpdateFunc: c.updateNode,
			DeleteFunc: c.deleteNode,
		}},
	}
	for _, h := range handlers {
		if _, err := h.inf.AddEventHandler(h.h); err != nil {
			return nil, fmt.Errorf("daemonset controller: adding event handler: %w", err)
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	return c, nil
}

// Run syncs daemon sets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.gcFailedBackoff(ctx) })
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.sync, c.log, reconcile.KeyName("daemonset"))
}

// gcFailedBackoff forgets expired failed-pod backoffs until ctx ends.
func (c *Controller) gcFailedBackoff(ctx context.Context) {
	ticker := c.clock.NewTicker(backoffGCInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			c.failedBackoff.GC()
		}
	}
}

func (c *Controller) enqueueAfter(ds *appsv1.DaemonSet, d time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
		c.queue.AddAfter(key, d)
	}
}
