package resourcequota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/resourcequota/usage"

	"mini.dev/mini/internal/controller/reconcile"
)

// DefaultResyncPeriod is upstream's --resource-quota-sync-period.
const DefaultResyncPeriod = 5 * time.Minute

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	Clock     clock.Clock          // nil: the real clock
	// ResyncPeriod is how often every quota is recounted (default 5m).
	ResyncPeriod time.Duration
}

// Controller keeps the status of ResourceQuotas.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock
	resync   time.Duration

	quotas  corelisters.ResourceQuotaLister
	tracked []tracked
	synced  []cache.InformerSynced
	queue   reconcile.Queue
}

// New registers the event handlers on the shared informers; it starts
// nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("resourcequota: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{} // nil channel: drops events
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = DefaultResyncPeriod
	}
	c := &Controller{
		client:   cfg.Client,
		recorder: cfg.Recorder,
		log:      cfg.Logger.With("component", "resourcequota-controller"),
		clock:    cfg.Clock,
		resync:   cfg.ResyncPeriod,
		queue:    reconcile.NewQueue("resourcequota", nil),
	}
	qInf := cfg.Informers.Core().V1().ResourceQuotas()
	c.quotas = qInf.Lister()
	reg, err := qInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(old, obj any) {
			// Only a spec change needs a recount; status writes are this
			// controller's and admission's own.
			o, n := old.(*corev1.ResourceQuota), obj.(*corev1.ResourceQuota)
			if !equality.Semantic.DeepEqual(o.Spec, n.Spec) {
				c.enqueue(obj)
			}
		},
	})
	if err != nil {
		return nil, fmt.Errorf("resourcequota: %w", err)
	}
	c.synced = append(c.synced, reg.HasSynced)
	for _, t := range trackedResources(cfg.Informers) {
		reg, err := t.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(old, obj any) { c.replenishIfChanged(t.gr, old, obj) },
			DeleteFunc: func(obj any) { c.replenish(t.gr, obj) },
		})
		if err != nil {
			return nil, fmt.Errorf("resourcequota: %w", err)
		}
		c.synced = append(c.synced, reg.HasSynced)
		c.tracked = append(c.tracked, t)
	}
	return c, nil
}

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

// replenishIfChanged recounts after an update that changes what the
// object costs (a pod that finished, a Service that became a
// LoadBalancer).
func (c *Controller) replenishIfChanged(gr schema.GroupResource, old, obj any) {
	o, ok1 := old.(runtime.Object)
	n, ok2 := obj.(runtime.Object)
	if !ok1 || !ok2 {
		return
	}
	now := c.clock.Now()
	if !usage.Equal(usage.Of(gr, o, now), usage.Of(gr, n, now)) {
		c.replenish(gr, obj)
	}
}

// replenish queues the quotas of the object's namespace that track its
// resource.
func (c *Controller) replenish(gr schema.GroupResource, obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	m, ok := obj.(interface{ GetNamespace() string })
	if !ok {
		return
	}
	quotas, err := c.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	if err != nil {
		return
	}
	for _, q := range quotas {
		for name := range q.Status.Hard {
			if usage.Covers(gr, name) {
				c.enqueue(q)
				break
			}
		}
	}
}

// Run recounts quotas until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, 1, c.synced, c.sync, c.log, reconcile.KeyName("quota"),
		reconcile.OnSynced(func(ctx context.Context) error { go c.resyncLoop(ctx); return nil }))
}

// resyncLoop queues every quota each resync period, so that whatever the
// events missed is corrected.
func (c *Controller) resyncLoop(ctx context.Context) {
	for {
		t := c.clock.NewTimer(c.resync)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
		quotas, err := c.quotas.List(labels.Everything())
		if err != nil {
			continue
		}
		for _, q := range quotas {
			c.enqueue(q)
		}
	}
}
