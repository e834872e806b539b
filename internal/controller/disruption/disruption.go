package disruption

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// DeletionTimeout is how long an eviction's entry in status.disruptedPods
// keeps its pod from counting as healthy while the pod is not yet being
// deleted, as upstream's.
const DeletionTimeout = 2 * time.Minute

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	// Clock is the time disruptions are judged by (default real); a
	// clock.WithTicker also paces the rechecks of expiring disruptions.
	Clock clock.Clock
}

// Controller keeps the status of PodDisruptionBudgets.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.Clock

	pdbs         policylisters.PodDisruptionBudgetLister
	pods         corelisters.PodLister
	replicaSets  appslisters.ReplicaSetLister
	deployments  appslisters.DeploymentLister
	statefulSets appslisters.StatefulSetLister
	synced       []cache.InformerSynced

	// queue holds the budgets to sync, by namespace/name.
	queue reconcile.Queue
	// stale holds the pods whose DisruptionTarget condition may be
	// stale (stale.go).
	stale reconcile.Queue
}

// New registers the event handlers on the shared informers; it starts
// nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("disruption: Client and Informers are required")
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
	tc, _ := cfg.Clock.(clock.WithTicker) // nil: the queues use the real clock
	c := &Controller{
		client:   cfg.Client,
		recorder: cfg.Recorder,
		log:      cfg.Logger.With("component", "disruption-controller"),
		clock:    cfg.Clock,
		queue:    reconcile.NewQueue("disruption", tc),
		stale:    reconcile.NewQueue("disruption_recheck", tc),
	}
	f := cfg.Informers
	pdbInf := f.Policy().V1().PodDisruptionBudgets()
	podInf := f.Core().V1().Pods()
	rsInf := f.Apps().V1().ReplicaSets()
	dInf := f.Apps().V1().Deployments()
	ssInf := f.Apps().V1().StatefulSets()
	c.pdbs, c.pods = pdbInf.Lister(), podInf.Lister()
	c.replicaSets, c.deployments, c.statefulSets = rsInf.Lister(), dInf.Lister(), ssInf.Lister()

	pdbReg, err := pdbInf.Informer().AddEventHandler(reconcile.EnqueueHandler(c.queue))
	if err != nil {
		return nil, fmt.Errorf("disruption: %w", err)
	}
	podReg, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.podChanged(obj)
			c.watchStale(obj)
		},
		UpdateFunc: func(old, obj any) {
			// A pod whose labels changed may have left a budget.
			c.podChanged(old)
			c.podChanged(obj)
			c.watchStale(obj)
		},
		DeleteFunc: c.podChanged,
	})
	if err != nil {
		return nil, fmt.Errorf("disruption: %w", err)
	}
	// The workload informers serve only the scale lookups, as upstream's.
	// mini serves no ReplicationControllers, so none is watched: a cache
	// of them would never sync.
	c.synced = []cache.InformerSynced{pdbReg.HasSynced, podReg.HasSynced,
		rsInf.Informer().HasSynced, dInf.Informer().HasSynced, ssInf.Informer().HasSynced}
	return c, nil
}

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

// podChanged queues the budgets that select the pod. Upstream syncs only
// one of several and warns; every one of them is synced here, which
// clients cannot tell apart, and the warning is kept.
func (c *Controller) podChanged(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	pdbs := c.budgetsFor(pod)
	if len(pdbs) > 1 && pod.DeletionTimestamp == nil {
		c.recorder.Eventf(pod, corev1.EventTypeWarning, "MultiplePodDisruptionBudgets",
			"Pod %q/%q matches multiple PodDisruptionBudgets.  Chose %q arbitrarily.", pod.Namespace, pod.Name, pdbs[0].Name)
	}
	for _, pdb := range pdbs {
		c.enqueue(pdb)
	}
}

// budgetsFor are the budgets whose selector matches the pod; in policy/v1
// an empty selector matches every pod of the namespace.
func (c *Controller) budgetsFor(pod *corev1.Pod) []*policyv1.PodDisruptionBudget {
	all, err := c.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*policyv1.PodDisruptionBudget
	for _, pdb := range all {
		sel, err := metav1LabelSelector(pdb)
		if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out
}

// Run syncs budgets until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	// One worker for stale disruption conditions, started with the PDB
	// worker once the caches sync and stopped after it.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.stale.ShutDown()
	startStale := func(ctx context.Context) error {
		wg.Go(func() { reconcile.Work(ctx, c.stale, c.syncStale, c.log, reconcile.KeyName("pod")) })
		return nil
	}
	return reconcile.Run(ctx, c.queue, 1, c.synced, c.sync, c.log, reconcile.KeyName("pdb"), reconcile.OnSynced(startStale))
}
