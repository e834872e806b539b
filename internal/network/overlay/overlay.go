package overlay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"mini.dev/mini/internal/controller/reconcile"
)

// Backends.
const (
	BackendVXLAN  = "vxlan"
	BackendHostGW = "host-gw"
	BackendNone   = "none"
)

// Config configures an Overlay. Zero fields take the defaults shown.
type Config struct {
	// Client patches this node's Node with its annotations; not needed
	// for backend none.
	Client kubernetes.Interface
	// Informers is the node's shared factory; the overlay watches Nodes.
	Informers informers.SharedInformerFactory
	// NodeName is this node's Node.
	NodeName string
	// Backend is "vxlan" (the default), "host-gw" or "none".
	Backend string
	// PublicIP is this node's address on the underlay; the link holding
	// it is the underlay link. Required unless Backend is none.
	PublicIP netip.Addr
	// VNI (1), Port (8472) and Device ("flannel.1") of the VXLAN device.
	VNI    int
	Port   int
	Device string
	// ResyncPeriod is how often the kernel is checked against the Nodes
	// without a Node change, to put back what someone removed (flannel
	// checks its routes every 10 s; so does this, by default).
	ResyncPeriod time.Duration
	Logger       *slog.Logger
}

const (
	defaultVNI    = 1
	defaultPort   = 8472
	defaultDevice = "flannel.1"
	defaultResync = 10 * time.Second
	defaultMTU    = 1500
	syncKey       = "overlay"
)

// Overlay programs this node's routes to the other nodes' pod CIDRs.
type Overlay struct {
	cfg    Config
	log    *slog.Logger
	nodes  corelisters.NodeLister
	synced cache.InformerSynced
	queue  reconcile.Queue

	// ns is the namespace that was current when New ran; h is bound to it.
	ns netns.NsHandle
	h  *netlink.Handle

	// mu serializes syncs, Teardown and Close.
	mu        sync.Mutex
	closed    bool
	mtu       atomic.Int64
	ready     chan struct{}
	readyOnce sync.Once
}

// New returns an Overlay for the network namespace current on the
// calling thread (the host's, unless a test locked its thread into
// another) and registers its Node handler. It changes nothing in the
// kernel or the API; Run does.
func New(cfg Config) (*Overlay, error) {
	if cfg.Informers == nil || cfg.NodeName == "" {
		return nil, errors.New("overlay: Informers and NodeName are required")
	}
	if cfg.Backend == "" {
		cfg.Backend = BackendVXLAN
	}
	switch cfg.Backend {
	case BackendVXLAN, BackendHostGW:
		if !cfg.PublicIP.Is4() {
			return nil, fmt.Errorf("overlay: %w: backend %s needs this node's IPv4 address", ErrNoPublicIP, cfg.Backend)
		}
		if cfg.Client == nil {
			return nil, errors.New("overlay: Client is required to annotate the Node")
		}
	case BackendNone:
	default:
		return nil, fmt.Errorf("overlay: %w %q (want %s, %s or %s)", ErrUnknownBackend, cfg.Backend, BackendVXLAN, BackendHostGW, BackendNone)
	}
	if cfg.VNI == 0 {
		cfg.VNI = defaultVNI
	}
	if cfg.Port == 0 {
		cfg.Port = defaultPort
	}
	if cfg.Device == "" {
		cfg.Device = defaultDevice
	}
	if len(cfg.Device) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("overlay: device name %q: longer than %d bytes", cfg.Device, unix.IFNAMSIZ-1)
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = defaultResync
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("overlay: open the current network namespace: %w", err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("overlay: netlink handle: %w", err)
	}
	o := &Overlay{
		cfg: cfg,
		log: cfg.Logger.With("component", "overlay", "backend", cfg.Backend),
		// Retries come fast (a route add may fail while the underlay is
		// still coming up) but never slower than the periodic check.
		queue: reconcile.NewQueueWithLimiter("overlay", nil,
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](50*time.Millisecond, cfg.ResyncPeriod)),
		ns:    ns,
		h:     h,
		ready: make(chan struct{}),
	}
	o.mtu.Store(defaultMTU)
	nodes := cfg.Informers.Core().V1().Nodes()
	o.nodes = nodes.Lister()
	inf := nodes.Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { o.queue.Add(syncKey) },
		UpdateFunc: func(old, cur any) {
			on, ok1 := old.(*corev1.Node)
			cn, ok2 := cur.(*corev1.Node)
			if !ok1 || !ok2 || relevantChange(on, cn) {
				o.queue.Add(syncKey)
			}
		},
		DeleteFunc: func(any) { o.queue.Add(syncKey) },
	}); err != nil {
		o.Close()
		return nil, err
	}
	o.synced = inf.HasSynced
	return o, nil
}

// Ready is closed after the first successful sync: this node's Node is
// annotated and every peer known then is programmed.
func (o *Overlay) Ready() <-chan struct{} { return o.ready }

// MTU is the MTU pods should use: the underlay's minus the VXLAN overhead
// with vxlan, the underlay's otherwise. It is valid once Ready is closed.
func (o *Overlay) MTU() int { return int(o.mtu.Load()) }

// Run starts the informers and keeps the kernel in step with the Nodes
// until ctx ends. Leaving changes nothing: live traffic survives a
// restart.
func (o *Overlay) Run(ctx context.Context) error {
	o.cfg.Informers.Start(ctx.Done())
	go func() {
		t := time.NewTicker(o.cfg.ResyncPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				o.queue.Add(syncKey)
			}
		}
	}()
	return reconcile.Run(ctx, o.queue, 1, []cache.InformerSynced{o.synced}, o.sync, o.log,
		reconcile.KeyName("overlay"),
		reconcile.OnSynced(func(context.Context) error { o.queue.Add(syncKey); return nil }))
}

// sync brings the kernel and this node's annotations in line with the
// Nodes.
func (o *Overlay) sync(ctx context.Context, _ string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	if o.cfg.Backend == BackendNone {
		return o.syncNone()
	}
	self, err := o.nodes.Get(o.cfg.NodeName)
	if apierrors.IsNotFound(err) {
		o.log.Debug("waiting for this node's Node", "node", o.cfg.NodeName)
		return nil
	}
	if err != nil {
		return err
	}
	podCIDR, ok := podCIDROf(self)
	if !ok {
		o.log.Debug("waiting for this node's pod CIDR", "node", o.cfg.NodeName)
		return nil
	}
	under, err := underlay(o.h, o.cfg.PublicIP)
	if err != nil {
		return err
	}
	var dev int
	var mac net.HardwareAddr
	mtu := under.Attrs().MTU
	if o.cfg.Backend == BackendVXLAN {
		ownMAC, _ := vtepMACOf(self)
		vx, err := o.ensureVXLAN(under, podCIDR, ownMAC)
		if err != nil {
			return err
		}
		dev, mac, mtu = vx.Index, vx.HardwareAddr, vx.MTU
	} else if err := o.deleteDevice(); err != nil {
		return err
	}

	nodes, err := o.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	peers := peersOf(nodes, o.cfg.Backend, o.cfg.NodeName, podCIDR, o.cfg.PublicIP)
	want := desired(o.cfg.Backend, peers, dev, under.Attrs().Index)
	have, err := readState(o.h, dev)
	if err != nil {
		return err
	}
	p := diff(have, want)
	applyErr := apply(o.h, p, dev)
	if !p.empty() {
		o.log.Info("programmed peers", "peers", len(peers), "routesSet", len(p.setRoutes), "routesDeleted", len(p.delRoutes),
			"neighSet", len(p.setNeighs), "neighDeleted", len(p.delNeighs), "fdbSet", len(p.setFDB), "fdbDeleted", len(p.delFDB))
	}
	annotErr := o.annotate(ctx, self, mac)
	if err := errors.Join(applyErr, annotErr); err != nil {
		return err
	}
	o.mtu.Store(int64(mtu))
	o.readyOnce.Do(func() {
		o.log.Info("ready", "podCIDR", podCIDR, "mtu", mtu, "peers", len(peers))
		close(o.ready)
	})
	return nil
}

// syncNone removes what another backend left.
func (o *Overlay) syncNone() error {
	if err := errors.Join(o.deleteDevice(), deleteOwnRoutes(o.h)); err != nil {
		return err
	}
	mtu := defaultMTU
	if o.cfg.PublicIP.IsValid() {
		if under, err := underlay(o.h, o.cfg.PublicIP); err == nil {
			mtu = under.Attrs().MTU
		}
	}
	o.mtu.Store(int64(mtu))
	o.readyOnce.Do(func() { close(o.ready) })
	return nil
}

// Teardown removes the VXLAN device and every route the overlay made (for
// `mini delete` and tests); pods lose their way to other nodes. It may
// run with or without Run.
func (o *Overlay) Teardown() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return ErrClosed
	}
	return errors.Join(o.deleteDevice(), deleteOwnRoutes(o.h))
}

// Close releases the Overlay's handles; the kernel state stays. Call it
// after Run has returned (and after Teardown, if any).
func (o *Overlay) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	o.h.Close()
	return o.ns.Close()
}
