package podgc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Defaults, as kube-controller-manager's.
const (
	// DefaultTerminatedPodThreshold is --terminated-pod-gc-threshold.
	DefaultTerminatedPodThreshold = 12500
	// DefaultPeriod is upstream's gcCheckPeriod.
	DefaultPeriod = 20 * time.Second
	// quarantine is how long a node must be missing before its pods are
	// orphans (upstream's quarantineTime).
	quarantine = 40 * time.Second
)

// Config configures the collector.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Logger    *slog.Logger     // nil: logs are dropped
	Clock     clock.WithTicker // nil: the real clock
	// TerminatedPodThreshold is how many terminated pods may exist before
	// the oldest are deleted: 0 means the default 12500, negative
	// disables that part.
	TerminatedPodThreshold int
	// Period between passes (default 20 s).
	Period time.Duration
}

// Controller is the pod garbage collector.
type Controller struct {
	cfg    Config
	client kubernetes.Interface
	log    *slog.Logger
	clock  clock.WithTicker
	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced

	mu sync.Mutex
	// missingSince is when a node that pods name was first missing.
	missingSince map[string]time.Time
}

// New checks the configuration and takes the listers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("podgc: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.TerminatedPodThreshold == 0 {
		cfg.TerminatedPodThreshold = DefaultTerminatedPodThreshold
	}
	if cfg.Period <= 0 {
		cfg.Period = DefaultPeriod
	}
	pods, nodes := cfg.Informers.Core().V1().Pods(), cfg.Informers.Core().V1().Nodes()
	return &Controller{
		cfg:          cfg,
		client:       cfg.Client,
		log:          cfg.Logger.With("component", "pod-garbage-collector"),
		clock:        cfg.Clock,
		pods:         pods.Lister(),
		nodes:        nodes.Lister(),
		synced:       []cache.InformerSynced{pods.Informer().HasSynced, nodes.Informer().HasSynced},
		missingSince: map[string]time.Time{},
	}, nil
}

// Run collects every Period until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	c.log.Info("starting")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return nil
	}
	ticker := c.clock.NewTicker(c.cfg.Period)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C():
			if err := c.gc(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("pod garbage collection failed", "err", err)
			}
		}
	}
}

// gc is one pass.
func (c *Controller) gc(ctx context.Context) error {
	pods, err := c.pods.List(everything())
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	nodes, err := c.nodes.List(everything())
	if err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	var errs []error
	if c.cfg.TerminatedPodThreshold > 0 {
		errs = append(errs, c.gcTerminated(ctx, pods))
	}
	errs = append(errs, c.gcTerminating(ctx, pods))
	errs = append(errs, c.gcOrphaned(ctx, pods, nodes))
	errs = append(errs, c.gcUnscheduledTerminating(ctx, pods))
	return errors.Join(errs...)
}
