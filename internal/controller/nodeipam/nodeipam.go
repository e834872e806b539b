package nodeipam

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"mini.dev/mini/internal/controller/reconcile"
)

// Defaults, as upstream's --node-cidr-mask-size-ipv4/-ipv6.
const (
	DefaultNodeMaskSizeIPv4 = 24
	DefaultNodeMaskSizeIPv6 = 64
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder // nil: events are dropped
	Logger    *slog.Logger         // nil: logs are dropped
	// ClusterCIDR is the range pod CIDRs come from, e.g. "10.42.0.0/16";
	// dual-stack as "10.42.0.0/16,fd00:42::/56".
	ClusterCIDR string
	// NodeMaskSize is the IPv4 node subnet size (default 24).
	NodeMaskSize int
	// NodeMaskSizeIPv6 is the IPv6 node subnet size (default 64).
	NodeMaskSizeIPv6 int
}

// Controller is the range allocator.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	nodes    corelisters.NodeLister
	synced   cache.InformerSynced
	queue    reconcile.Queue

	mu        sync.Mutex
	sets      []*cidrSet                // one per cluster CIDR, in the configured order
	allocated map[string][]netip.Prefix // node name -> the subnets it holds
}

// New parses the configuration and registers the node event handlers.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("nodeipam: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Recorder == nil {
		cfg.Recorder = &record.FakeRecorder{} // nil channel: drops events
	}
	sets, err := parseClusterCIDRs(cfg.ClusterCIDR, cfg.NodeMaskSize, cfg.NodeMaskSizeIPv6)
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	c := &Controller{
		client:    cfg.Client,
		recorder:  cfg.Recorder,
		log:       cfg.Logger.With("component", "node-ipam-controller"),
		sets:      sets,
		allocated: map[string][]netip.Prefix{},
		queue:     reconcile.NewQueue("nodeipam", nil),
	}
	inf := cfg.Informers.Core().V1().Nodes()
	c.nodes = inf.Lister()
	reg, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: c.enqueue,
		UpdateFunc: func(_, obj any) {
			// Only a node still without a CIDR needs work; a node
			// that has one is recorded at start or when added.
			if n, ok := obj.(*corev1.Node); ok && n.Spec.PodCIDR == "" {
				c.enqueue(obj)
			}
		},
		DeleteFunc: c.enqueue,
	})
	if err != nil {
		return nil, fmt.Errorf("nodeipam: %w", err)
	}
	c.synced = reg.HasSynced
	return c, nil
}

// parseClusterCIDRs builds one cidrSet per comma-separated range.
func parseClusterCIDRs(s string, maskV4, maskV6 int) ([]*cidrSet, error) {
	if maskV4 == 0 {
		maskV4 = DefaultNodeMaskSizeIPv4
	}
	if maskV6 == 0 {
		maskV6 = DefaultNodeMaskSizeIPv6
	}
	var sets []*cidrSet
	families := map[bool]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("cluster CIDR %q: %w", part, err)
		}
		is4 := p.Addr().Is4()
		if families[is4] {
			return nil, fmt.Errorf("cluster CIDR %q: at most one range per IP family", s)
		}
		families[is4] = true
		mask := maskV6
		if is4 {
			mask = maskV4
		}
		set, err := newCIDRSet(p, mask)
		if err != nil {
			return nil, err
		}
		sets = append(sets, set)
	}
	if len(sets) == 0 {
		return nil, errors.New("a cluster CIDR is required")
	}
	return sets, nil
}

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

// Run waits for the node cache, marks the subnets existing nodes hold, and
// then allocates until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, 1, []cache.InformerSynced{c.synced}, c.sync, c.log,
		reconcile.KeyName("node"), reconcile.OnSynced(c.occupyAll))
}

// occupyAll marks every subnet in use. Every one must be known before the
// first is handed out, or a node processed early could get a later node's
// subnet.
func (c *Controller) occupyAll(context.Context) error {
	nodes, err := c.nodes.List(labelsEverything())
	if err != nil {
		return fmt.Errorf("nodeipam: list nodes: %w", err)
	}
	for _, n := range nodes {
		c.occupy(n)
	}
	return nil
}

// retryFull paces retries when the range is exhausted: a node deletion may
// free a subnet at any time.
const retryFull = 10 * time.Second
