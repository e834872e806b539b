package servicelb

import (
	"context"
	"errors"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// NodeAnnotation names, on a Service with an address from the pool, the
// node that announces that address.
const NodeAnnotation = "mini.dev/lb-node"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder records events on Services; nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock times the retries; nil is the real clock.
	Clock clock.WithTicker
	// Pool is the address range "START-END" (IPv4) Services get their
	// address from; empty means no pool: Services get the Ready nodes'
	// addresses.
	Pool string
}

// Controller keeps the load balancer status of LoadBalancer Services.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	pool     *pool // nil without a pool

	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	synced   []cache.InformerSynced
	queue    reconcile.Queue
}

// New registers the controller's informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("servicelb controller: Client and Informers are required")
	}
	p, err := parsePool(cfg.Pool)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{}
	}
	c := &Controller{
		client:   cfg.Client,
		recorder: cfg.Recorder,
		log:      cfg.Logger.With("component", "service-lb-controller"),
		pool:     p,
		queue:    reconcile.NewQueue("service-lb", cfg.Clock),
	}
	services := cfg.Informers.Core().V1().Services()
	nodes := cfg.Informers.Core().V1().Nodes()
	c.services, c.nodes = services.Lister(), nodes.Lister()
	regs := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{services.Informer(), reconcile.EnqueueHandler(c.queue)},
		// A node that comes, goes, turns Ready or NotReady or changes
		// address changes every LoadBalancer's status or announcer.
		{nodes.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: func(any) { c.enqueueLoadBalancers(false) },
			UpdateFunc: func(old, cur any) {
				o, ok1 := old.(*corev1.Node)
				n, ok2 := cur.(*corev1.Node)
				if !ok1 || !ok2 || nodeChanged(o, n) {
					c.enqueueLoadBalancers(false)
				}
			},
			DeleteFunc: func(any) { c.enqueueLoadBalancers(false) },
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

// Run syncs Services until ctx ends. Upstream's service controller runs
// one worker (--concurrent-service-syncs); so does this, which keeps
// allocation order the order Services come.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, 1, c.synced, c.sync, c.log,
		reconcile.KeyName("service"), reconcile.ErrorLevel(reconcile.ConflictsAtDebug),
		reconcile.OnSynced(func(context.Context) error { c.loadAllocations(); return nil }))
}

// loadAllocations takes back the pool addresses the Services' statuses
// show, oldest Service first (of two claiming one address, it keeps it),
// before any sync can give one away.
func (c *Controller) loadAllocations() {
	if c.pool == nil {
		return
	}
	list, err := c.services.List(labels.Everything())
	if err != nil {
		c.log.Warn("listing services; allocations are rebuilt as services sync", "err", err)
		return
	}
	list = slices.DeleteFunc(slices.Clone(list), func(s *corev1.Service) bool { return !ours(s) })
	slices.SortFunc(list, func(a, b *corev1.Service) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmpKey(a, b)
	})
	for _, s := range list {
		c.claimFromStatus(keyOf(s), s)
	}
}

// enqueueLoadBalancers queues every LoadBalancer Service of ours, or
// with pending only those that hold no address (after one was freed).
func (c *Controller) enqueueLoadBalancers(pending bool) {
	list, err := c.services.List(labels.Everything())
	if err != nil {
		return
	}
	for _, s := range list {
		if !ours(s) {
			continue
		}
		key := keyOf(s)
		if pending && c.pool != nil {
			if _, ok := c.pool.lookup(key); ok {
				continue
			}
		}
		c.queue.Add(key)
	}
}

// ours reports whether svc is a LoadBalancer this controller serves.
func ours(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

func keyOf(svc *corev1.Service) string { return svc.Namespace + "/" + svc.Name }

func cmpKey(a, b *corev1.Service) int {
	ka, kb := keyOf(a), keyOf(b)
	switch {
	case ka < kb:
		return -1
	case ka > kb:
		return 1
	}
	return 0
}
