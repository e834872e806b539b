package tainteviction

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// DefaultWorkers is how many pods are evicted in parallel.
const DefaultWorkers = 8

// nodeNameIndex indexes pods by spec.nodeName.
const nodeNameIndex = "tainteviction.spec.nodeName"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	Clock     clock.WithTicker     // nil: the real clock
	Workers   int                  // default DefaultWorkers
}

// Controller evicts pods from nodes with NoExecute taints.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	workers  int

	pods     corelisters.PodLister
	podIndex cache.Indexer
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	// queue holds pod keys; a pod whose eviction is due later is added
	// back with a delay.
	queue reconcile.Queue

	mu sync.Mutex
	// scheduled are the pods with an eviction pending, and since when:
	// to say so in an event when it is cancelled, as upstream, and to time
	// tolerations of taints that carry no timeAdded.
	scheduled map[string]time.Time
}

// New checks the configuration and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("tainteviction: Client and Informers are required")
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
		cfg.Workers = DefaultWorkers
	}
	c := &Controller{
		client:    cfg.Client,
		recorder:  cfg.Recorder,
		log:       cfg.Logger.With("component", "taint-eviction-controller"),
		clock:     cfg.Clock,
		workers:   cfg.Workers,
		scheduled: map[string]time.Time{},
		queue:     reconcile.NewQueue("taint_eviction", cfg.Clock),
	}
	podInf := cfg.Informers.Core().V1().Pods()
	nodeInf := cfg.Informers.Core().V1().Nodes()
	c.pods, c.nodes = podInf.Lister(), nodeInf.Lister()
	if err := podInf.Informer().AddIndexers(cache.Indexers{nodeNameIndex: podNodeName}); err != nil {
		return nil, fmt.Errorf("tainteviction: %w", err)
	}
	c.podIndex = podInf.Informer().GetIndexer()
	podReg, err := podInf.Informer().AddEventHandler(reconcile.EnqueueHandler(c.queue))
	if err != nil {
		return nil, fmt.Errorf("tainteviction: %w", err)
	}
	nodeReg, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueueNodePods(obj) },
		UpdateFunc: func(old, obj any) {
			o, ok1 := old.(*corev1.Node)
			n, ok2 := obj.(*corev1.Node)
			if ok1 && ok2 && slices.EqualFunc(noExecuteTaints(o), noExecuteTaints(n), taintEqual) {
				return
			}
			c.enqueueNodePods(obj)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("tainteviction: %w", err)
	}
	c.synced = []cache.InformerSynced{podReg.HasSynced, nodeReg.HasSynced}
	return c, nil
}

func podNodeName(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

func (c *Controller) enqueuePod(obj any) { reconcile.Enqueue(c.queue, obj) }

// enqueueNodePods queues every pod of a node whose NoExecute taints
// changed.
func (c *Controller) enqueueNodePods(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	pods, err := c.podIndex.ByIndex(nodeNameIndex, n.Name)
	if err != nil {
		return
	}
	for _, p := range pods {
		c.enqueuePod(p)
	}
}

// Run evicts until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.sync, c.log, reconcile.KeyName("pod"))
}
