package noderole

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"mini.dev/mini/internal/agent"
	"mini.dev/mini/internal/agent/endpoint"
	"mini.dev/mini/internal/agent/envvars"
	"mini.dev/mini/internal/agent/host"
	"mini.dev/mini/internal/agent/prober"
	"mini.dev/mini/internal/agent/volume"
	"mini.dev/mini/internal/network"
	"mini.dev/mini/internal/network/overlay"
	"mini.dev/mini/internal/runtime"
	ctrdruntime "mini.dev/mini/internal/runtime/containerd"
)

// ControlPlaneLabel marks the server's own node, as k3s and kubeadm do.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// Config is one machine's node.
type Config struct {
	// NodeName and NodeIP are the node's name and InternalIP, already
	// resolved (see Name and host.NodeIP): its certificates name them.
	NodeName string
	NodeIP   string
	// Dir holds the node's state: containerd's, pod logs and volumes
	// (<data-dir>/agent).
	Dir string
	// REST reaches the API as this node (system:node:<name> in
	// system:nodes).
	REST *rest.Config
	// ServingCertPEM and ServingKeyPEM are the node endpoint's serving
	// certificate (the node name and IP); ClientCAs verifies who calls it
	// (the API server's kubelet client certificate, from the cluster CA).
	ServingCertPEM, ServingKeyPEM []byte
	ClientCAs                     *x509.CertPool
	// ClusterCIDR holds every node's pod CIDR (default 10.42.0.0/16).
	ClusterCIDR string
	// Labels go on the Node besides kubelet's own (the server's node
	// carries ControlPlaneLabel).
	Labels map[string]string
	// ContainerRuntimeEndpoint is an existing containerd's socket; empty:
	// the node supervises its own under Dir.
	ContainerRuntimeEndpoint string
	// KubeletPort is the node endpoint's port (0 picks a free one).
	KubeletPort int
	// ClusterDNS and ClusterDomain go into pods' resolv.conf (defaults
	// 10.43.0.10 and cluster.local).
	ClusterDNS    string
	ClusterDomain string
	// Bridge and NetNSDir name the pod network's bridge and where pod
	// network namespaces live (defaults mini0 and /run/mini/netns);
	// several nodes on one machine give each its own. A node with its own
	// bridge also gets its own nftables table (mini-podnet-<bridge>).
	Bridge   string
	NetNSDir string
	// Extra, when set, runs beside the node's components once the node
	// endpoint serves (tests add components this way); it must return
	// when ctx ends.
	Extra func(ctx context.Context, env Env) error
	// Network says which network components the node runs: the overlay,
	// the service proxy and the cluster DNS.
	Network NetworkConfig
	Logger  *slog.Logger
}

// Env is what the node's network components get: who the node is, a
// client as the node, and one informer factory that they all share (one
// watch per resource per node). A component registers its informers in
// its constructor and starts the factory in its Run.
type Env struct {
	NodeName      string
	NodeIP        string
	ClusterCIDR   string
	ClusterDNS    string
	ClusterDomain string
	Bridge        string // "" = the pod network's default
	Network       NetworkConfig
	Client        kubernetes.Interface
	Informers     informers.SharedInformerFactory
	Logger        *slog.Logger
}

// Node is a running node role.
type Node struct {
	cfg   Config
	ready chan struct{}
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Node, error) {
	if cfg.NodeName == "" || cfg.Dir == "" || cfg.REST == nil || cfg.ClientCAs == nil {
		return nil, errors.New("noderole: NodeName, Dir, REST and ClientCAs are required")
	}
	if net.ParseIP(cfg.NodeIP) == nil {
		return nil, fmt.Errorf("noderole: node IP %q is not an IP address", cfg.NodeIP)
	}
	if len(cfg.ServingCertPEM) == 0 || len(cfg.ServingKeyPEM) == 0 {
		return nil, errors.New("noderole: the serving certificate is required")
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if _, err := netip.ParsePrefix(cfg.ClusterCIDR); err != nil {
		return nil, fmt.Errorf("noderole: cluster CIDR: %w", err)
	}
	switch cfg.Network.FlannelBackend {
	case "", overlay.BackendVXLAN, overlay.BackendHostGW, overlay.BackendNone:
	default:
		return nil, fmt.Errorf("--flannel-backend: %q is none of vxlan, host-gw and none", cfg.Network.FlannelBackend)
	}
	if cfg.ClusterDNS == "" {
		cfg.ClusterDNS = "10.43.0.10"
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Node{cfg: cfg, ready: make(chan struct{})}, nil
}

// Ready is closed once the Node is registered and the agent runs.
func (n *Node) Ready() <-chan struct{} { return n.ready }

// Name is a node's name: the one given, else the host name, lower-cased
// as kubelet does (Node names are DNS names).
func Name(given string) (string, error) {
	if given != "" {
		return given, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("node name: %w", err)
	}
	return strings.ToLower(h), nil
}

// Run runs the node until ctx ends or a part fails: containerd first (the
// agent cannot register without knowing its runtime), then the node
// endpoint (the Node carries its port), then the agent with its volume
// manager and prober, and the network components beside it.
func (n *Node) Run(ctx context.Context) error {
	c := n.cfg
	log := c.Logger
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	if err := ensureCgroupFS(); err != nil {
		return err
	}
	facts, err := host.Read(c.Dir)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(c.REST)
	if err != nil {
		return err
	}

	// A node on a bridge of its own (tests running several) gets its own
	// nftables table too, so that no node rewrites another's rules.
	table := ""
	if c.Bridge != "" {
		table = "mini-podnet-" + c.Bridge
	}
	podNet, err := network.New(network.Config{Bridge: c.Bridge, Table: table, ClusterCIDR: c.ClusterCIDR, NetNSDir: c.NetNSDir,
		MTU: podMTU(c.Network.FlannelBackend, c.NodeIP, log), Logger: log})
	if err != nil {
		return fmt.Errorf("pod network: %w", err)
	}
	defer podNet.Close()
	rt, err := ctrdruntime.New(ctrdruntime.Config{Address: c.ContainerRuntimeEndpoint, DataDir: c.Dir, Network: podNet, Logger: log})
	if err != nil {
		return err
	}
	// Once something runs, every way out stops it and waits for it, so
	// that nothing outlives the handles deferred above.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, ctx := errgroup.WithContext(ctx)
	defer rt.Close()
	stop := func(err error) error {
		cancel()
		return errors.Join(err, g.Wait())
	}
	g.Go(func() error { return rt.Run(ctx) })
	select {
	case <-rt.Ready():
	case <-ctx.Done():
		return g.Wait()
	}

	pods := &podsRef{}
	ep, err := endpoint.New(endpoint.Config{Addr: net.JoinHostPort("", strconv.Itoa(c.KubeletPort)),
		CertPEM: c.ServingCertPEM, KeyPEM: c.ServingKeyPEM, ClientCAs: c.ClientCAs, Pods: pods, Streams: rt, Logger: log})
	if err != nil {
		return stop(err)
	}
	g.Go(func() error { return ep.Run(ctx) })
	select {
	case <-ep.Ready():
	case <-ctx.Done():
		return g.Wait()
	}

	events := record.NewBroadcaster(record.WithContext(ctx))
	defer events.Shutdown()
	events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	recorder := events.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: c.NodeName})

	// The agent is made last, but its collaborators call back into it.
	var ag *agent.Agent
	resync := func(uid types.UID) {
		if ag != nil {
			ag.Resync(uid)
		}
	}
	nodeInfo := envvars.Node{Name: c.NodeName, HostIP: c.NodeIP, Allocatable: facts.Capacity}
	getter := envvars.NewCachedGetter(client, time.Second)
	vols, err := volume.New(volume.Config{Client: client, Getter: getter, RootDir: c.Dir, NodeName: c.NodeName,
		Node: func() envvars.Node { return nodeInfo }, OnChange: resync, Logger: log})
	if err != nil {
		return stop(err)
	}
	prb := prober.New(prober.Config{Exec: rt, Recorder: recorder, OnChange: resync, Logger: log})
	dns := volume.DNS{Servers: []string{c.ClusterDNS}, Domain: c.ClusterDomain, HostResolvConf: hostResolvConf()}
	ag, err = agent.New(agent.Config{
		Client: client, NodeName: c.NodeName, Runtime: rt, RootDir: c.Dir, Recorder: recorder, Logger: log,
		// kubelet gives every pod a worker: a pod's stop may wait its
		// whole grace period, and a start mostly waits on containerd.
		Workers: host.MaxPods,
		// ...but only a few start at once (see agent.Config).
		ParallelStarts: 8,
		Node: agent.NodeConfig{
			Capacity: facts.Capacity,
			Labels:   c.Labels,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: c.NodeIP},
				{Type: corev1.NodeHostName, Address: c.NodeName},
			},
			Info:        facts.Info,
			KubeletPort: int32(ep.Port()),
		},
		Volumes: podVolumes{vols, dns},
		Env: func(ctx context.Context, pod *corev1.Pod, ctr *corev1.Container, podIPs []string) ([]runtime.KeyValue, error) {
			return envvars.Resolve(ctx, pod, ctr, podIPs, nodeInfo, getter)
		},
		Prober: prb,
	})
	if err != nil {
		return stop(err)
	}
	pods.set(ag.Pods())
	g.Go(func() error { return vols.Run(ctx) })
	g.Go(func() error { return ag.Run(ctx) })

	env := Env{NodeName: c.NodeName, NodeIP: c.NodeIP, ClusterCIDR: c.ClusterCIDR, ClusterDNS: c.ClusterDNS, ClusterDomain: c.ClusterDomain,
		Bridge: c.Bridge, Network: c.Network, Client: client, Informers: informers.NewSharedInformerFactory(client, 0), Logger: log}
	defer env.Informers.Shutdown()
	g.Go(func() error { return runNetworkComponents(ctx, env) })
	if c.Extra != nil {
		g.Go(func() error { return c.Extra(ctx, env) })
	}
	g.Go(func() error {
		select {
		case <-ag.Ready():
			close(n.ready)
			log.Info("node ready", "component", "node", "node", c.NodeName, "ip", c.NodeIP, "kubelet-port", ep.Port())
		case <-ctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// hostResolvConf is the resolver file pods with dnsPolicy Default get:
// systemd-resolved's upstream list where /etc/resolv.conf names its
// loopback stub, which pods cannot reach.
func hostResolvConf() string {
	const resolved = "/run/systemd/resolve/resolv.conf"
	if b, err := os.ReadFile("/etc/resolv.conf"); err == nil && strings.Contains(string(b), "127.0.0.53") {
		if _, err := os.Stat(resolved); err == nil {
			return resolved
		}
	}
	return "/etc/resolv.conf"
}
