package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/runtime"
)

// Config says which node the agent is and what it drives.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	Runtime  runtime.Runtime
	// Source delivers the node's pods and Node; nil means an
	// InformerSource of its own.
	Source Source
	// Node describes the machine: capacity, labels, addresses.
	Node NodeConfig
	// RootDir holds the agent's per-pod files: container logs under
	// logs/<namespace>_<name>_<uid>. Empty: no log directory (sim).
	RootDir string
	// Volumes, Env and Prober extend the agent for runtimes that run
	// processes; nil ones leave the feature out (see extensions.go).
	Volumes Volumes
	Env     EnvResolver
	Prober  Prober
	// Timing holds the heartbeat periods; zero fields mean kubelet's
	// defaults.
	Timing Timing
	// Workers is how many pods are synced at once (default 4).
	Workers int
	// ParallelStarts bounds how many of those may be starting sandboxes
	// and containers at the same time (default: Workers). Stops are not
	// bounded: a stop may wait out a grace period. On a small machine a
	// start is CPU work for containerd, its shim and runc, and more of
	// them at once only raise everyone's peak memory.
	ParallelStarts int
	// Clock drives heartbeats, back-off and timestamps; nil: real clock.
	Clock clock.WithTickerAndDelayedExecution
	// Recorder records pod and node events as "kubelet"; nil drops them.
	Recorder record.EventRecorder
	Logger   *slog.Logger
}

// NodeConfig describes the node the agent registers.
type NodeConfig struct {
	Capacity corev1.ResourceList
	// Allocatable defaults to Capacity.
	Allocatable corev1.ResourceList
	// Labels are added to the well-known ones (hostname, os, arch).
	Labels map[string]string
	Taints []corev1.Taint
	// Addresses: at least the InternalIP; Hostname is added if missing.
	Addresses []corev1.NodeAddress
	// Info's empty fields are filled in: kubelet version, runtime
	// version, OS, architecture.
	Info corev1.NodeSystemInfo
	// KubeletPort is the daemon endpoint port (default 10250).
	KubeletPort int32
}

// Timing holds kubelet's heartbeat periods.
type Timing struct {
	// LeaseDuration is the Lease's leaseDurationSeconds (default 40 s);
	// it is renewed every quarter of it.
	LeaseDuration time.Duration
	// StatusUpdateFrequency is how often node status is computed and
	// posted if changed (default 10 s), StatusReportFrequency how often
	// it is posted anyway (default 5 min).
	StatusUpdateFrequency time.Duration
	StatusReportFrequency time.Duration
	// HeartbeatOffset delays the first periodic heartbeat, so that many
	// agents started together spread their renewals over the period.
	HeartbeatOffset time.Duration
	// Relist is the period of the full runtime relist and pod resync
	// (default 1 s without runtime events, 1 min with them).
	Relist time.Duration
}

func (t *Timing) defaults(events bool) {
	if t.LeaseDuration <= 0 {
		t.LeaseDuration = 40 * time.Second
	}
	if t.StatusUpdateFrequency <= 0 {
		t.StatusUpdateFrequency = 10 * time.Second
	}
	if t.StatusReportFrequency <= 0 {
		t.StatusReportFrequency = 5 * time.Minute
	}
	if t.Relist <= 0 {
		t.Relist = time.Second
		if events {
			t.Relist = time.Minute
		}
	}
}

// Agent is one node's agent.
type Agent struct {
	cfg    Config
	client kubernetes.Interface
	rt     runtime.Runtime
	clock  clock.WithTickerAndDelayedExecution
	rec    record.EventRecorder
	log    *slog.Logger
	source Source

	queue   workqueue.TypedRateLimitingInterface[types.UID]
	ipam    *ipam
	backOff *backOff
	paused  atomic.Bool
	ready   chan struct{}
	synced  chan struct{}

	mu      sync.Mutex
	node    *corev1.Node // latest known version
	pods    map[types.UID]*podEntry
	started bool

	hb heartbeatState // owned by the heartbeat goroutine

	rtName atomic.Pointer[string] // the runtime's name, once known
	starts chan struct{}          // slots of ParallelStarts
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Agent, error) {
	if cfg.Client == nil || cfg.Runtime == nil || cfg.NodeName == "" {
		return nil, errors.New("agent: Client, Runtime and NodeName are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{} // nil channel: drops events
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.ParallelStarts <= 0 || cfg.ParallelStarts > cfg.Workers {
		cfg.ParallelStarts = cfg.Workers
	}
	if cfg.Node.KubeletPort == 0 {
		cfg.Node.KubeletPort = 10250
	}
	if cfg.Source == nil {
		cfg.Source = &InformerSource{Client: cfg.Client, NodeName: cfg.NodeName}
	}
	_, events := cfg.Runtime.(runtime.EventSource)
	cfg.Timing.defaults(events)
	a := &Agent{
		cfg: cfg, client: cfg.Client, rt: cfg.Runtime, clock: cfg.Clock, rec: cfg.Recorder,
		log:     cfg.Logger.With("component", "agent", "node", cfg.NodeName),
		source:  cfg.Source,
		ipam:    newIPAM(),
		backOff: newBackOff(cfg.Clock),
		ready:   make(chan struct{}),
		synced:  make(chan struct{}),
		pods:    map[types.UID]*podEntry{},
		starts:  make(chan struct{}, cfg.ParallelStarts),
	}
	return a, nil
}

// Resync queues a pod's sync, for collaborators that learn of a change
// the agent cannot see (a probe result, a volume source).
func (a *Agent) Resync(uid types.UID) {
	if a.queue != nil {
		a.queue.Add(uid)
	}
}

// Ready is closed once the Node is registered.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// PauseHeartbeat stops (true) or resumes (false) Lease renewals and node
// status posts, as if the node had lost contact; pods keep running. Tests
// use it to simulate node loss.
func (a *Agent) PauseHeartbeat(pause bool) { a.paused.Store(pause) }

// Run registers the node, then runs heartbeats and pods until ctx ends.
// An agent runs once.
func (a *Agent) Run(ctx context.Context) error {
	// The queue is made here, not in New, because it starts a goroutine.
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[types.UID](100*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[types.UID]{Clock: a.clock})
	defer a.queue.ShutDown()
	if _, err := a.rt.Version(ctx); err != nil {
		return fmt.Errorf("agent: runtime: %w", err)
	}
	if err := a.register(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("agent: register node %s: %w", a.cfg.NodeName, err)
	}
	close(a.ready)
	if err := a.adopt(ctx); err != nil {
		a.log.Warn("adopting runtime pods", "err", err)
	}

	// A source that fails ends the agent: its other goroutines run until
	// their context ends, so they get one of their own to cancel.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() {
		if err := a.source.Run(ctx, a); err != nil {
			errc <- fmt.Errorf("agent: source: %w", err)
		}
	})
	wg.Go(func() { a.heartbeat(ctx) })
	wg.Go(func() { a.pleg(ctx) })
	select {
	case <-a.synced:
	case <-ctx.Done():
	case err := <-errc:
		cancel()
		a.queue.ShutDown()
		wg.Wait()
		return err
	}
	for range a.cfg.Workers {
		wg.Go(func() { a.worker(ctx) })
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	a.queue.ShutDown()
	wg.Wait()
	return err
}

// runtimeName is the runtime's name as container IDs carry it ("sim"),
// asked once: it is in every container status.
func (a *Agent) runtimeName() string {
	if name := a.rtName.Load(); name != nil {
		return *name
	}
	v, err := a.rt.Version(context.Background())
	if err != nil || v.RuntimeName == "" {
		return "unknown"
	}
	a.rtName.Store(&v.RuntimeName)
	return v.RuntimeName
}
