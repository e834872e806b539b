package statefulset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger     // nil: discard
	Clock     clock.WithTicker // nil: real time
	// Workers is how many stateful sets are synced at once (0: 2).
	Workers int
}

var controllerKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Controller keeps stateful sets' pods, PVCs and revisions.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	workers  int

	setLister appslisters.StatefulSetLister
	revLister appslisters.ControllerRevisionLister
	podLister corelisters.PodLister
	pvcLister corelisters.PersistentVolumeClaimLister
	synced    []cache.InformerSynced

	queue reconcile.Queue
}

// New builds the controller and registers its informer event handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("statefulset controller: Client, Informers and Recorder are required")
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
		client:   cfg.Client,
		recorder: cfg.Recorder,
		log:      cfg.Logger.With("component", "statefulset-controller"),
		clock:    cfg.Clock,
		workers:  cfg.Workers,
		queue:    reconcile.NewQueue("statefulset", cfg.Clock),
	}
	apps, core := cfg.Informers.Apps().V1(), cfg.Informers.Core().V1()
	setInf, revInf, podInf, pvcInf := apps.StatefulSets(), apps.ControllerRevisions(), core.Pods(), core.PersistentVolumeClaims()
	c.setLister, c.revLister, c.podLister, c.pvcLister = setInf.Lister(), revInf.Lister(), podInf.Lister(), pvcInf.Lister()
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{setInf.Informer(), reconcile.EnqueueHandler(c.queue)},
		{podInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    c.podAdded,
			UpdateFunc: c.podUpdated,
			DeleteFunc: c.podDeleted,
		}},
		// Revisions and claims are only read from the cache.
		{revInf.Informer(), nil},
		{pvcInf.Informer(), nil},
	}
	for _, h := range handlers {
		if h.h != nil {
			if _, err := h.inf.AddEventHandler(h.h); err != nil {
				return nil, fmt.Errorf("statefulset controller: adding event handler: %w", err)
			}
		}
		c.synced = append(c.synced, h.inf.HasSynced)
	}
	return c, nil
}

// Run syncs stateful sets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.sync, c.log, reconcile.KeyName("statefulset"))
}

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

func (c *Controller) enqueueAfter(set *appsv1.StatefulSet, d time.Duration) {
	if key, err := cache.MetaNamespaceKeyFunc(set); err == nil {
		c.queue.AddAfter(key, d)
	}
}
