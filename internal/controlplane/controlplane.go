// Package controlplane runs, against an API server, what upstream splits
// between kube-controller-manager and kube-scheduler: every controller
// and the scheduler, on one shared informer factory, recording events
// through one broadcaster. `mini server` runs it over loopback; the
// integration tests run it beside an in-process API.
package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Config says how to reach the API and how the cluster is laid out.
type Config struct {
	// Controllers is how the controllers reach the API (upstream: the
	// kube-controller-manager identity), Scheduler how the scheduler does
	// (system:kube-scheduler, whose bootstrap role it needs). Either may be
	// nil to run without that half, as k3s's --disable-controller-manager
	// and --disable-scheduler do.
	Controllers *rest.Config
	Scheduler   *rest.Config
	// RootCA is the cluster CA published in every namespace as
	// kube-root-ca.crt.
	RootCA []byte
	// ClusterCIDR is the pod network the node IPAM splits into one /24 per
	// node.
	ClusterCIDR string
	// LBPool is the IPv4 range "START-END" LoadBalancer Services get
	// their addresses from; empty gives them the Ready nodes' addresses
	// (k3s's ServiceLB).
	LBPool string
	// Timing knobs upstream also exposes as flags; zero means upstream's
	// default.
	Timing Timing
	Logger *slog.Logger
	Clock  clock.WithTicker
}

// Timing holds the durations upstream's kube-controller-manager takes as
// flags.
type Timing struct {
	// NodeMonitorGracePeriod: how long a node may go without a heartbeat
	// before it is marked NotReady (upstream default 40 s).
	NodeMonitorGracePeriod time.Duration
}

// ControlPlane runs the controllers and the scheduler.
type ControlPlane struct {
	cfg Config
	log *slog.Logger
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*ControlPlane, error) {
	if cfg.Controllers == nil && cfg.Scheduler == nil {
		return nil, errors.New("controlplane: neither controllers nor scheduler to run")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	return &ControlPlane{cfg: cfg, log: cfg.Logger}, nil
}

// runnable is what every controller and the scheduler are.
type runnable interface {
	Run(ctx context.Context) error
}

// half is one identity's share of the components: its client, informers
// and event pipeline.
type half struct {
	client    kubernetes.Interface
	informers informers.SharedInformerFactory
	events    record.EventBroadcaster
}

func newHalf(ctx context.Context, cfg *rest.Config) (*half, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &half{client: client, informers: informers.NewSharedInformerFactory(client, 0), events: newEvents(ctx, client)}, nil
}

func (h *half) recorder(component string) record.EventRecorder {
	return h.events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: component})
}

// start starts the informers; stop shuts informers and events down.
func (h *half) start(ctx context.Context) { h.informers.Start(ctx.Done()) }
func (h *half) stop() {
	h.informers.Shutdown()
	h.events.Shutdown()
}

// Run builds every component, starts the informers and runs them all
// until ctx ends or one fails.
func (cp *ControlPlane) Run(ctx context.Context) error {
	var components []component
	var halves []*half
	defer func() {
		for _, h := range halves {
			h.stop()
		}
	}()
	if cp.cfg.Controllers != nil {
		h, err := newHalf(ctx, cp.cfg.Controllers)
		if err != nil {
			return err
		}
		halves = append(halves, h)
		dyn, err := dynamic.NewForConfig(cp.cfg.Controllers)
		if err != nil {
			return err
		}
		meta, err := metadata.NewForConfig(cp.cfg.Controllers)
		if err != nil {
			return err
		}
		disc, err := discovery.NewDiscoveryClientForConfig(cp.cfg.Controllers)
		if err != nil {
			return err
		}
		env := &buildEnv{cfg: cp.cfg, half: h, dynamic: dyn, metadata: meta, discovery: disc}
		cs, err := env.controllers()
		if err != nil {
			return err
		}
		components = append(components, cs...)
	}
	if cp.cfg.Scheduler != nil {
		h, err := newHalf(ctx, cp.cfg.Scheduler)
		if err != nil {
			return err
		}
		halves = append(halves, h)
		env := &buildEnv{cfg: cp.cfg, half: h}
		sched, err := env.scheduler()
		if err != nil {
			return err
		}
		components = append(components, sched...)
	}
	for _, h := range halves {
		h.start(ctx)
	}

	g, ctx := errgroup.WithContext(ctx)
	for _, comp := range components {
		g.Go(func() error {
			if err := comp.r.Run(ctx); err != nil {
				return fmt.Errorf("%s: %w", comp.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// newEvents is one event pipeline to the API: events are aggregated and
// rate limited per object as upstream's recorders do.
func newEvents(ctx context.Context, client kubernetes.Interface) record.EventBroadcaster {
	b := record.NewBroadcaster(record.WithContext(ctx))
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b
}
