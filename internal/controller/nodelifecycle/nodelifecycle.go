package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// Defaults, as kube-controller-manager's --node-monitor-grace-period and
// --node-monitor-period.
const (
	DefaultGracePeriod   = 40 * time.Second
	DefaultMonitorPeriod = 5 * time.Second
	// startupGracePeriod is what a node that never posted a Ready
	// condition gets (--node-startup-grace-period).
	startupGracePeriod = time.Minute
)

// nodeNameIndex indexes pods by spec.nodeName.
const nodeNameIndex = "nodelifecycle.spec.nodeName"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	Clock     clock.WithTicker     // nil: the real clock
	// GracePeriod without heartbeat before a node is Unknown (default 40 s).
	GracePeriod time.Duration
	// MonitorPeriod between health checks (default 5 s).
	MonitorPeriod time.Duration
}

// Controller watches node health and taints nodes accordingly.
type Controller struct {
	cfg      Config
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker

	nodes  corelisters.NodeLister
	leases coordlisters.LeaseLister
	pods   cache.Indexer
	synced []cache.InformerSynced

	// queue carries node names whose NoSchedule taints may need to follow
	// a change of conditions or of spec.unschedulable.
	queue reconcile.Queue

	mu     sync.Mutex
	health map[string]*nodeHealth
	// masterDisruption: no node is Ready; NoExecute taints are withheld.
	masterDisruption bool
	// podsToRetry: nodes whose pods could not all be marked not Ready.
	podsToRetry map[string]bool
}

// New checks the configuration and registers the informer handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodelifecycle: Client and Informers are required")
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
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if cfg.MonitorPeriod <= 0 {
		cfg.MonitorPeriod = DefaultMonitorPeriod
	}
	c := &Controller{
		cfg:         cfg,
		client:      cfg.Client,
		recorder:    cfg.Recorder,
		log:         cfg.Logger.With("component", "node-lifecycle-controller"),
		clock:       cfg.Clock,
		health:      map[string]*nodeHealth{},
		podsToRetry: map[string]bool{},
		queue:       reconcile.NewQueue("node_lifecycle_controller", cfg.Clock),
	}
	nodeInf := cfg.Informers.Core().V1().Nodes()
	podInf := cfg.Informers.Core().V1().Pods()
	leaseInf := cfg.Informers.Coordination().V1().Leases()
	c.nodes, c.leases = nodeInf.Lister(), leaseInf.Lister()
	if err := podInf.Informer().AddIndexers(cache.Indexers{nodeNameIndex: podNodeName}); err != nil {
		return nil, fmt.Errorf("nodelifecycle: %w", err)
	}
	c.pods = podInf.Informer().GetIndexer()
	enqueue := func(obj any) {
		if n, ok := obj.(*corev1.Node); ok {
			c.queue.Add(n.Name)
		}
	}
	reg, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	if err != nil {
		return nil, fmt.Errorf("nodelifecycle: %w", err)
	}
	c.synced = []cache.InformerSynced{reg.HasSynced, podInf.Informer().HasSynced, leaseInf.Informer().HasSynced}
	return c, nil
}

func podNodeName(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok || p.Spec.NodeName == "" {
		return nil, nil
	}
	return []string{p.Spec.NodeName}, nil
}

// Run monitors node health every MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer c.queue.ShutDown()
	c.log.Info("starting")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	var wg sync.WaitGroup
	wg.Go(func() { reconcile.Work(ctx, c.queue, c.syncNoScheduleTaints, c.log, reconcile.KeyName("node")) })
	ticker := c.clock.NewTicker(c.cfg.MonitorPeriod)
	defer ticker.Stop()
	for {
		if err := c.monitorNodeHealth(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("monitoring node health failed", "err", err)
		}
		select {
		case <-ctx.Done():
			c.queue.ShutDown()
			wg.Wait()
			return nil
		case <-ticker.C():
		}
	}
}
