package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"k8s.io/client-go/informers"
)

// NodeLocalLabel marks a Service every node answers itself (the cluster DNS
// address); the proxy programs nothing for it.
const NodeLocalLabel = "mini.dev/node-local"

// LBNodeAnnotation names the node that answers ARP for a Service's
// LoadBalancer addresses taken from an address pool (MetalLB layer 2 style).
const LBNodeAnnotation = "mini.dev/lb-node"

// Defaults for Config fields left empty.
const (
	DefaultTable            = "mini-proxy"
	DefaultLBDevice         = "mini-lb0"
	DefaultMinSyncInterval  = 5 * time.Millisecond
	DefaultRetryInterval    = time.Second
	DefaultFullSyncInterval = time.Hour
)

// DefaultClusterCIDR is the pod address range used when Config.ClusterCIDR is unset.
var DefaultClusterCIDR = netip.MustParsePrefix("10.42.0.0/16")

// Config says what the proxy programs and where.
type Config struct {
	// Informers is the node's shared factory; New registers the Service and
	// EndpointSlice informers on it.
	Informers informers.SharedInformerFactory
	// NodeName is this node's name: endpoints with this nodeName are local.
	NodeName string
	// NodeIPs are the addresses NodePorts answer on; empty means every
	// local address (fib daddr type local) except loopback.
	NodeIPs []netip.Addr
	// ClusterCIDR is the pod range; traffic to a Service from outside it is
	// masqueraded, as kube-proxy's --cluster-cidr. Default 10.42.0.0/16.
	ClusterCIDR netip.Prefix
	// Table is the nftables table (family ip) the proxy owns. Default "mini-proxy".
	Table string
	// LBDevice is the dummy device that carries the pool LoadBalancer
	// addresses this node answers for. Default "mini-lb0".
	LBDevice string
	// MinSyncInterval is the least time between two syncs, so that bursts
	// of changes share a transaction. Default 5ms.
	MinSyncInterval time.Duration
	// RetryInterval is the wait before a full resync after a failed sync. Default 1s.
	RetryInterval time.Duration
	// FullSyncInterval is how often the whole table is rebuilt even when
	// nothing failed, to repair changes made behind the proxy's back. Default 1h.
	FullSyncInterval time.Duration
	// Logger gets structured logs; default slog.Default().
	Logger *slog.Logger
}

// Errors returned by New.
var (
	// ErrNoInformers is returned when Config.Informers is nil.
	ErrNoInformers = errors.New("proxy: Config.Informers is required")
	// ErrNoNodeName is returned when Config.NodeName is empty.
	ErrNoNodeName = errors.New("proxy: Config.NodeName is required")
	// ErrBadConfig is returned for an address or prefix of the wrong family.
	ErrBadConfig = errors.New("proxy: bad config")
)

func (c *Config) setDefaults() error {
	if c.Informers == nil {
		return ErrNoInformers
	}
	if c.NodeName == "" {
		return ErrNoNodeName
	}
	if !c.ClusterCIDR.IsValid() {
		c.ClusterCIDR = DefaultClusterCIDR
	}
	if !c.ClusterCIDR.Addr().Is4() {
		return fmt.Errorf("%w: cluster CIDR %s is not IPv4", ErrBadConfig, c.ClusterCIDR)
	}
	c.ClusterCIDR = c.ClusterCIDR.Masked()
	for _, ip := range c.NodeIPs {
		if !ip.Is4() {
			return fmt.Errorf("%w: node IP %s is not IPv4", ErrBadConfig, ip)
		}
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.LBDevice == "" {
		c.LBDevice = DefaultLBDevice
	}
	if c.MinSyncInterval == 0 {
		c.MinSyncInterval = DefaultMinSyncInterval
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultRetryInterval
	}
	if c.FullSyncInterval == 0 {
		c.FullSyncInterval = DefaultFullSyncInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Logger = c.Logger.With("component", "proxy")
	return nil
}
