package simnodes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/agent"
	"mini.dev/mini/internal/runtime/sim"
)

// Config says how many sim nodes to run.
type Config struct {
	Client kubernetes.Interface
	Count  int
	// NamePrefix names the nodes <prefix>0 ... <prefix>N-1 (default
	// "sim-").
	NamePrefix string
	Logger     *slog.Logger
	// Clock drives heartbeats and the sim containers; nil: real clock.
	Clock clock.WithTickerAndDelayedExecution
	// LeaseDuration is the nodes' lease duration (default kubelet's 40 s);
	// each renews every quarter of it.
	LeaseDuration time.Duration
}

// Every sim node is this size (the numbers).
var capacity = corev1.ResourceList{
	corev1.ResourceCPU:              resource.MustParse("8"),
	corev1.ResourceMemory:           resource.MustParse("32Gi"),
	corev1.ResourcePods:             resource.MustParse("110"),
	corev1.ResourceEphemeralStorage: resource.MustParse("100Gi"),
}

// SimLabel marks sim nodes (type=sim).
const SimLabel, SimLabelValue = "type", "sim"

// addressBase is where sim node InternalIPs start: the shared address
// space of RFC 6598, which no real node of a mini cluster uses.
var addressBase = netip.MustParseAddr("100.64.0.0")

// defaultLeaseDuration is kubelet's; a quarter of it is the renewal
// period over which the nodes' heartbeats are spread.
const defaultLeaseDuration = 40 * time.Second

// workersPerNode is small: a sim node's pod syncs are in-memory and
// brief, and a thousand nodes already give a thousand-fold parallelism.
const workersPerNode = 2

// SimNodes runs the sim nodes.
type SimNodes struct {
	cfg    Config
	log    *slog.Logger
	disp   *dispatcher
	names  []string
	ready  chan struct{}
	events record.EventBroadcaster // made by Run

	mu     sync.Mutex
	agents map[string]*agent.Agent // made by Run
}

// New builds the nodes' agents; it starts nothing.
func New(cfg Config) (*SimNodes, error) {
	if cfg.Client == nil {
		return nil, errors.New("simnodes: Client is required")
	}
	if cfg.Count < 0 || cfg.Count > 1<<20 {
		return nil, fmt.Errorf("simnodes: Count %d out of range", cfg.Count)
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "sim-"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	s := &SimNodes{
		cfg: cfg, log: cfg.Logger.With("component", "simnodes"),
		disp:  newDispatcher(cfg.Client),
		ready: make(chan struct{}),
	}
	for i := range cfg.Count {
		s.names = append(s.names, fmt.Sprintf("%s%d", cfg.NamePrefix, i))
	}
	return s, nil
}

// build makes the event broadcaster and the agents: in Run, not New,
// because the broadcaster starts a goroutine.
func (s *SimNodes) build() error {
	cfg := s.cfg
	s.events = record.NewBroadcaster()
	agents := make(map[string]*agent.Agent, cfg.Count)
	lease := cfg.LeaseDuration
	if lease <= 0 {
		lease = defaultLeaseDuration
	}
	for i, name := range s.names {
		rt, err := sim.New(sim.Config{Clock: cfg.Clock})
		if err != nil {
			return fmt.Errorf("simnodes: %w", err)
		}
		ip := addressBase
		for range i + 1 {
			ip = ip.Next()
		}
		a, err := agent.New(agent.Config{
			Client: cfg.Client, NodeName: name, Runtime: rt, Source: s.disp.source(name),
			Node: agent.NodeConfig{
				Capacity:  capacity,
				Labels:    map[string]string{SimLabel: SimLabelValue},
				Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip.String()}},
				Info: corev1.NodeSystemInfo{
					MachineID: name, SystemUUID: name, BootID: name,
					KernelVersion: "sim", OSImage: "mini sim node",
				},
			},
			Timing: agent.Timing{LeaseDuration: lease,
				HeartbeatOffset: lease / 4 * time.Duration(i) / time.Duration(max(cfg.Count, 1))},
			Workers:  workersPerNode,
			Clock:    cfg.Clock,
			Recorder: s.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: name}),
			Logger:   cfg.Logger,
		})
		if err != nil {
			return fmt.Errorf("simnodes: %w", err)
		}
		agents[name] = a
	}
	s.mu.Lock()
	s.agents = agents
	s.mu.Unlock()
	return nil
}

// Ready is closed once every node is registered.
func (s *SimNodes) Ready() <-chan struct{} { return s.ready }

// Names lists the nodes, in order.
func (s *SimNodes) Names() []string { return append([]string(nil), s.names...) }

// Pause stops the node's heartbeats (Lease and status), as if it had
// died; its pods are left as they are. Resume undoes it. Both work once
// Run has started (Ready is closed).
func (s *SimNodes) Pause(node string) error { return s.setPaused(node, true) }

// Resume restarts a paused node's heartbeats.
func (s *SimNodes) Resume(node string) error { return s.setPaused(node, false) }

func (s *SimNodes) setPaused(node string, paused bool) error {
	s.mu.Lock()
	a, ok := s.agents[node]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("simnodes: no sim node %q", node)
	}
	a.PauseHeartbeat(paused)
	return nil
}

// Run runs every node until ctx ends.
func (s *SimNodes) Run(ctx context.Context) error {
	if err := s.build(); err != nil {
		return err
	}
	sink := &typedcorev1.EventSinkImpl{Interface: s.cfg.Client.CoreV1().Events("")}
	stopEvents := s.events.StartRecordingToSink(sink)
	defer stopEvents.Stop()
	defer s.events.Shutdown()

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.disp.run(ctx) })
	for _, name := range s.names {
		a := s.agents[name]
		g.Go(func() error { return a.Run(ctx) })
	}
	g.Go(func() error {
		for _, name := range s.names {
			select {
			case <-s.agents[name].Ready():
			case <-ctx.Done():
				return nil
			}
		}
		s.log.Info("sim nodes registered", "count", len(s.names))
		close(s.ready)
		return nil
	})
	return g.Wait()
}
