package scheduler

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/scheduler/framework"
)

// Config is what the scheduler is built from.
type Config struct {
	// Client binds pods, patches their status and deletes preemption
	// victims.
	Client kubernetes.Interface
	// Informers is the shared factory; the scheduler registers its pod
	// and node informers on it in New, and the caller starts it.
	Informers informers.SharedInformerFactory
	// Recorder records Scheduled, FailedScheduling and Preempted events.
	Recorder record.EventRecorder
	// Logger may be nil (discard).
	Logger *slog.Logger
	// Clock drives backoff and the queue's flushes; nil means real time.
	Clock clock.WithTicker
}

// binder binds a pod to a node; the default posts pods/binding, tests
// and the benchmark substitute their own.
type binder func(ctx context.Context, pod *corev1.Pod, node string) error

// Scheduler is mini's kube-scheduler with the default profile.
type Scheduler struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker

	podLister corelisters.PodLister
	pdbLister policylisters.PodDisruptionBudgetLister
	synced    []toolscache.InformerSynced

	cache    *cache
	snapshot *snapshot
	queue    *queue
	profile  *profile
	bind     binder

	parallelism        int
	nextStartNodeIndex int
	buf                cycleBuffers
	// binding counts binding calls in flight, so that Run returns only
	// after they end.
	binding sync.WaitGroup
}

// New builds the scheduler and registers its informer event handlers.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("scheduler: Client, Informers and Recorder are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	s := &Scheduler{
		client:      cfg.Client,
		recorder:    cfg.Recorder,
		log:         log.With("component", "scheduler"),
		clock:       clk,
		cache:       newCache(),
		snapshot:    newSnapshot(),
		queue:       newQueue(clk),
		parallelism: defaultParallelism(),
	}
	s.bind = s.bindAPI
	pods := cfg.Informers.Core().V1().Pods()
	nodes := cfg.Informers.Core().V1().Nodes()
	s.podLister = pods.Lister()
	namespaces := cfg.Informers.Core().V1().Namespaces()
	nsLister := namespaces.Lister()
	s.profile = newProfile(defaultPlugins(func(ns string) labels.Set {
		if n, err := nsLister.Get(ns); err == nil {
			return n.Labels
		}
		return nil
	}))
	if err := s.addEventHandlers(pods.Informer(), nodes.Informer()); err != nil {
		return nil, err
	}
	// Preemption prefers victims whose budgets allow the disruption.
	pdbs := cfg.Informers.Policy().V1().PodDisruptionBudgets()
	s.pdbLister = pdbs.Lister()
	s.synced = []toolscache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced,
		namespaces.Informer().HasSynced, pdbs.Informer().HasSynced}
	return s, nil
}

// Run schedules pods until ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	if !toolscache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return nil
	}
	s.log.Info("scheduler started")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.queue.run(ctx)
	}()
	for s.scheduleOne(ctx) {
	}
	wg.Wait()
	s.binding.Wait()
	return nil
}

// newCycle starts a cycle for pod.
func (s *Scheduler) newCycle(pod *corev1.Pod) *cycle {
	c := &cycle{pod: pod, state: framework.NewCycleState()}
	if !s.queue.nominator.empty() {
		c.nominated = s.queue.nominator
	}
	return c
}
