package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"

	"mini.dev/mini/internal/runtime"
)

// RuntimeName is what Version reports as the runtime's name.
const RuntimeName = "containerd"

// DefaultNamespace is the containerd namespace mini's objects live in.
const DefaultNamespace = "mini"

// runcRuntime is the containerd runtime (shim) every task runs under.
const runcRuntime = "io.containerd.runc.v2"

// Network sets up pod networks; internal/network implements it.
type Network interface {
	// SetPodCIDR tells the network the node's pod CIDR.
	SetPodCIDR(ctx context.Context, cidr string) error
	// Setup makes the sandbox's network namespace with the given addresses
	// and host ports, and returns the namespace's path.
	Setup(ctx context.Context, sandboxID string, ips []string, ports []runtime.PortMapping) (netnsPath string, err error)
	// Teardown removes what Setup made; it is idempotent.
	Teardown(ctx context.Context, sandboxID string) error
}

// Config configures a containerd runtime.
type Config struct {
	// Address is the containerd socket to use; "" starts and supervises a
	// private containerd under DataDir.
	Address string
	// DataDir holds the private containerd (<DataDir>/containerd) and the
	// container FIFOs.
	DataDir string
	// Namespace is the containerd namespace ("" means "mini").
	Namespace string
	// Network makes pod network namespaces; nil allows only host-network
	// sandboxes.
	Network Network
	Logger  *slog.Logger
}

// Runtime is the containerd backend. Create it with New and run it with
// Run, or connect it to a running containerd with Dial.
type Runtime struct {
	cfg    Config
	log    *slog.Logger
	ready  chan struct{}
	events runtime.EventFanout // subscribers of ContainerEvents

	// client and snapshotter are set once, before ready is closed.
	client      *ctrd.Client
	snapshotter string

	mu sync.Mutex
	// ios are the stdio copiers of running tasks, by container ID.
	ios map[string]*taskIO
	// oom marks containers containerd reported an OOM kill for.
	oom map[string]bool
	// exiting serialises recording a container's exit.
	exiting map[string]chan struct{}
	// annotations caches containers' and sandboxes' annotations, which
	// live in their OCI specs and never change.
	annotations map[string]map[string]string
}

var (
	_ runtime.Runtime        = (*Runtime)(nil)
	_ runtime.EventSource    = (*Runtime)(nil)
	_ runtime.Streamer       = (*Runtime)(nil)
	_ runtime.PodCIDRUpdater = (*Runtime)(nil)
)

// errNotConnected is returned by calls made before Run has connected.
var errNotConnected = errors.New("containerd: not connected yet")

// New checks cfg and returns a runtime; it starts nothing.
func New(cfg Config) (*Runtime, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("containerd: DataDir is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	cfg.DataDir = dir
	if cfg.Namespace == "" {
		cfg.Namespace = DefaultNamespace
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{
		cfg:         cfg,
		log:         cfg.Logger.With("component", "containerd"),
		ready:       make(chan struct{}),
		ios:         map[string]*taskIO{},
		oom:         map[string]bool{},
		exiting:     map[string]chan struct{}{},
		annotations: map[string]map[string]string{},
	}, nil
}

// Dial connects to an already running containerd (for the `mini image`
// commands). The returned runtime serves image calls and lists; it does not
// watch events.
func Dial(ctx context.Context, address, namespace string) (*Runtime, error) {
	r, err := New(Config{Address: address, DataDir: os.TempDir(), Namespace: namespace})
	if err != nil {
		return nil, err
	}
	if err := r.connect(ctx, address); err != nil {
		return nil, err
	}
	return r, nil
}

// Ready is closed once the runtime is connected to containerd.
func (r *Runtime) Ready() <-chan struct{} { return r.ready }

// Close releases the connection; call it after Run returned, or for Dial.
func (r *Runtime) Close() error {
	select {
	case <-r.ready:
		return r.client.Close()
	default:
		return nil
	}
}

// Run connects to containerd (starting a private one when Address is
// empty), re-attaches to running containers and follows containerd's
// events until ctx ends.
func (r *Runtime) Run(ctx context.Context) error {
	address := r.cfg.Address
	var daemonDone chan error
	if address == "" {
		d, err := newDaemon(r.cfg.DataDir, r.log)
		if err != nil {
			return err
		}
		address = d.socket
		daemonDone = make(chan error, 1)
		go func() { daemonDone <- d.run(ctx) }()
	}
	if err := r.connectRetrying(ctx, address); err != nil {
		if daemonDone != nil {
			<-daemonDone
		}
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return err
	}
	r.followEvents(ctx)
	r.closeIOs()
	if daemonDone != nil {
		return <-daemonDone
	}
	return nil
}

// connectRetrying connects, retrying while a fresh containerd comes up.
func (r *Runtime) connectRetrying(ctx context.Context, address string) error {
	for {
		err := r.connect(ctx, address)
		if err == nil {
			return nil
		}
		r.log.Debug("connecting", "address", address, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd: connecting to %s: %w", address, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (r *Runtime) connect(ctx context.Context, address string) error {
	if _, err := os.Stat(address); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	client, err := ctrd.New(address, ctrd.WithDefaultNamespace(r.cfg.Namespace), ctrd.WithTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("containerd: connecting to %s: %w", address, err)
	}
	snap, err := pickSnapshotter(namespaces.WithNamespace(ctx, r.cfg.Namespace), client)
	if err != nil {
		client.Close()
		return err
	}
	r.client, r.snapshotter = client, snap
	close(r.ready)
	r.log.Info("connected", "address", address, "snapshotter", snap)
	return nil
}

// pickSnapshotter prefers overlayfs and falls back to native where the
// kernel or the backing filesystem cannot do overlay.
func pickSnapshotter(ctx context.Context, client *ctrd.Client) (string, error) {
	resp, err := client.IntrospectionService().Plugins(ctx, []string{`type=="io.containerd.snapshotter.v1"`})
	if err != nil {
		return "", fmt.Errorf("containerd: listing snapshotters: %w", err)
	}
	ok := map[string]bool{}
	for _, p := range resp.Plugins {
		ok[p.ID] = p.InitErr == nil
	}
	for _, name := range []string{"overlayfs", "native"} {
		if ok[name] {
			return name, nil
		}
	}
	return "", errors.New("containerd: neither the overlayfs nor the native snapshotter is available")
}

// conn returns the client and a context in mini's namespace.
func (r *Runtime) conn(ctx context.Context) (*ctrd.Client, context.Context, error) {
	select {
	case <-r.ready:
		return r.client, namespaces.WithNamespace(ctx, r.cfg.Namespace), nil
	default:
		return nil, nil, errNotConnected
	}
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (runtime.VersionInfo, error) {
	client, ctx, err := r.conn(ctx)
	if err != nil {
		return runtime.VersionInfo{}, err
	}
	v, err := client.Version(ctx)
	if err != nil {
		return runtime.VersionInfo{}, fmt.Errorf("containerd: version: %w", err)
	}
	return runtime.VersionInfo{RuntimeName: RuntimeName, RuntimeVersion: v.Version, RuntimeAPIVersion: "v1"}, nil
}

// UpdatePodCIDR implements runtime.PodCIDRUpdater.
func (r *Runtime) UpdatePodCIDR(ctx context.Context, cidr string) error {
	if r.cfg.Network == nil {
		return nil
	}
	return r.cfg.Network.SetPodCIDR(ctx, cidr)
}

// fifoDir is where container stdio FIFOs live.
func (r *Runtime) fifoDir() string { return filepath.Join(r.cfg.DataDir, "containerd", "fifo") }
