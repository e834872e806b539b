package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Config configures a Network. Zero fields take the defaults shown.
type Config struct {
	// Bridge is the bridge pods attach to ("mini0").
	Bridge string
	// ClusterCIDR holds every node's pod CIDR ("10.42.0.0/16"); pod
	// traffic to it is not masqueraded.
	ClusterCIDR string
	// MTU of the bridge and the veths (0: the MTU of the default route's
	// link, 1500 without one).
	MTU int
	// NetNSDir is where sandbox network namespaces are bind-mounted
	// ("/run/mini/netns").
	NetNSDir string
	// Table is the nftables table (family ip) this package owns
	// ("mini-podnet").
	Table  string
	Logger *slog.Logger
}

const (
	defaultBridge      = "mini0"
	defaultClusterCIDR = "10.42.0.0/16"
	defaultNetNSDir    = "/run/mini/netns"
	defaultTable       = "mini-podnet"
	defaultMTU         = 1500
)

// Network sets up the pod network of one node. Its methods are safe for
// concurrent use; calls for one sandbox are serialized.
type Network struct {
	cfg         Config
	log         *slog.Logger
	clusterCIDR *net.IPNet

	// hostNS is the namespace that was current when New ran; host and
	// nft are bound to it.
	hostNS netns.NsHandle
	host   *netlink.Handle
	// nftMu makes each nftables transaction whole: a Conn queues the
	// messages of every caller until Flush.
	nftMu sync.Mutex
	nft   *nftables.Conn

	mu       sync.Mutex // guards the fields below
	podCIDR  *net.IPNet
	gateway  net.IP
	mtu      int
	dirReady bool

	sandboxes keyedMutex
}

// New returns a Network for the network namespace current on the calling
// thread (the host's, unless a test locked its thread into another). It
// changes nothing in the kernel; SetPodCIDR does.
func New(cfg Config) (*Network, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = defaultBridge
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = defaultClusterCIDR
	}
	if cfg.NetNSDir == "" {
		cfg.NetNSDir = defaultNetNSDir
	}
	if cfg.Table == "" {
		cfg.Table = defaultTable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Bridge) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("bridge name %q: longer than %d bytes", cfg.Bridge, unix.IFNAMSIZ-1)
	}
	_, cluster, err := net.ParseCIDR(cfg.ClusterCIDR)
	if err != nil || cluster.IP.To4() == nil {
		return nil, fmt.Errorf("cluster CIDR %q: not an IPv4 CIDR", cfg.ClusterCIDR)
	}
	hostNS, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("open the current network namespace: %w", err)
	}
	host, err := netlink.NewHandleAt(hostNS, unix.NETLINK_ROUTE)
	if err != nil {
		hostNS.Close()
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	nft, err := nftables.New(nftables.WithNetNSFd(int(hostNS)), nftables.AsLasting())
	if err != nil {
		host.Close()
		hostNS.Close()
		return nil, fmt.Errorf("nftables connection: %w", err)
	}
	return &Network{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "network"),
		clusterCIDR: cluster,
		hostNS:      hostNS,
		host:        host,
		nft:         nft,
	}, nil
}

// Close releases the Network's handles; the kernel state stays.
func (n *Network) Close() error {
	n.host.Close()
	err := n.nft.CloseLasting()
	return errors.Join(err, n.hostNS.Close())
}

// NetNSPath is the file the sandbox's network namespace is mounted on.
func (n *Network) NetNSPath(sandboxID string) string {
	return filepath.Join(n.cfg.NetNSDir, sandboxID)
}

func validSandboxID(id string) error {
	if id == "" || id == "." || strings.Contains(id, "/") || strings.Contains(id, "..") {
		return fmt.Errorf("%w: %q", ErrInvalidSandboxID, id)
	}
	return nil
}

// Cleanup removes everything the Network made: every sandbox namespace
// under NetNSDir and its veth, the bridge and the table. It is for
// `mini delete` and tests; running pods lose their network.
func (n *Network) Cleanup(ctx context.Context) error {
	var errs []error
	entries, err := os.ReadDir(n.cfg.NetNSDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if err := n.Teardown(ctx, e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	// Veths whose namespace file is already gone still hang on the bridge.
	if br, err := n.host.LinkByName(n.cfg.Bridge); err == nil {
		links, err := n.host.LinkList()
		if err != nil {
			errs = append(errs, fmt.Errorf("list links: %w", err))
		}
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index && l.Type() == "veth" {
				if err := n.host.LinkDel(l); err != nil && !isNotFound(err) {
					errs = append(errs, fmt.Errorf("delete %s: %w", l.Attrs().Name, err))
				}
			}
		}
		if err := n.host.LinkDel(br); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete bridge %s: %w", n.cfg.Bridge, err))
		}
	} else if !isNotFound(err) {
		errs = append(errs, fmt.Errorf("find bridge %s: %w", n.cfg.Bridge, err))
	}
	if err := n.deleteTable(); err != nil {
		errs = append(errs, err)
	}
	if err := unmountNetNSDir(n.cfg.NetNSDir); err != nil {
		errs = append(errs, err)
	}
	n.mu.Lock()
	n.podCIDR, n.gateway, n.dirReady = nil, nil, false
	n.mu.Unlock()
	return errors.Join(errs...)
}

// isNotFound reports whether a netlink call failed because the object is
// absent.
func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}

// keyedMutex serializes work per key (sandbox ID) without holding a lock
// per key forever.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refMutex
}

type refMutex struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refMutex{}
	}
	m := k.locks[key]
	if m == nil {
		m = &refMutex{}
		k.locks[key] = m
	}
	m.refs++
	k.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		k.mu.Lock()
		if m.refs--; m.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
