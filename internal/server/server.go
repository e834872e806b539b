// Package server wires the components `mini server` runs: the store, the
// API, the control plane (controllers and scheduler) and the simulated
// nodes. The CLI turns flags into a Config; tests run the same wiring
// in-process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/apiserver"
	"mini.dev/mini/internal/controlplane"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/simnodes"
	"mini.dev/mini/internal/store"
)

// Config is what `mini server` is told by its flags.
type Config struct {
	DataDir     string
	BindAddress string
	HTTPSPort   int // 0 picks a free port
	// WriteKubeconfig is where the admin kubeconfig goes (default
	// <DataDir>/kubeconfig.yaml).
	WriteKubeconfig string
	// Store tuning; zero values take the store's defaults.
	HistoryCount    int64
	HistoryAge      time.Duration
	CompactInterval time.Duration
	WatchWindow     int
	// Networks.
	ServiceCIDR      string
	ClusterCIDR      string
	NodePortRange    string
	AdvertiseAddress string // "" = this host's first non-loopback IPv4 address
	// LBPool is the range (START-END) LoadBalancer Services take addresses
	// from; "" gives them the nodes' addresses.
	LBPool string
	// ClusterDNS is the address the kube-dns Service holds and every node
	// answers (default 10.43.0.10, or the node's --cluster-dns).
	ClusterDNS string
	// Disable names manifests (built-in or under <data-dir>/manifests) to
	// leave out and clean up (--disable).
	Disable []string
	// ManifestResync is how often every manifest is applied again (0 =
	// deploy.DefaultResync).
	ManifestResync time.Duration
	// SimNodes is how many simulated nodes to run.
	SimNodes int
	// Node, when set, runs a real node for this machine (`mini server`
	// without --disable-agent): the agent on containerd.
	Node *NodeConfig
	// NodeLeaseDuration is the sim nodes' lease duration (upstream kubelet
	// default 40 s); they renew every quarter of it.
	NodeLeaseDuration time.Duration
	// DisableScheduler and DisableControllerManager leave out that half of
	// the control plane (to measure the API alone, or to run another).
	DisableScheduler         bool
	DisableControllerManager bool
	// Timing of the control plane (zero: upstream's defaults).
	Timing controlplane.Timing
	Logger *slog.Logger
}

// Server is a running `mini server`.
type Server struct {
	cfg        Config
	log        *slog.Logger
	ready      chan struct{}
	addr       string // set before ready is closed
	kubeconfig string
	simNodes   *simnodes.SimNodes // nil without SimNodes
	nodeReady  chan struct{}      // closed once the real node is registered
	// controlPlaneRunning is set while the controllers and the scheduler
	// run (componentstatuses).
	controlPlaneRunning atomic.Bool
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BindAddress == "" {
		cfg.BindAddress = "0.0.0.0"
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	if _, err := netip.ParsePrefix(cfg.ClusterCIDR); err != nil {
		return nil, fmt.Errorf("--cluster-cidr: %w", err)
	}
	if cfg.AdvertiseAddress != "" && net.ParseIP(cfg.AdvertiseAddress) == nil {
		return nil, fmt.Errorf("--advertise-address: %q is not an IP address", cfg.AdvertiseAddress)
	}
	if slices.Contains(cfg.Disable, "") {
		return nil, errors.New("--disable: an empty name")
	}
	if cfg.SimNodes < 0 {
		return nil, fmt.Errorf("--sim-nodes: %d is negative", cfg.SimNodes)
	}
	if cfg.ClusterDNS == "" && cfg.Node != nil {
		cfg.ClusterDNS = cfg.Node.ClusterDNS
	}
	if cfg.ClusterDNS == "" {
		cfg.ClusterDNS = "10.43.0.10"
	}
	if cfg.WriteKubeconfig == "" {
		cfg.WriteKubeconfig = filepath.Join(cfg.DataDir, "kubeconfig.yaml")
	}
	return &Server{cfg: cfg, log: cfg.Logger.With("component", "server"), ready: make(chan struct{}),
		kubeconfig: cfg.WriteKubeconfig, nodeReady: make(chan struct{})}, nil
}

// Ready is closed once the API answers and the admin kubeconfig is
// written.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the API's address; valid once Ready is closed.
func (s *Server) Addr() string { return s.addr }

// SimNodes are the simulated nodes (nil when there are none); valid once
// Ready is closed.
func (s *Server) SimNodes() *simnodes.SimNodes { return s.simNodes }

// NodeReady is closed once this machine's node (Config.Node) is
// registered; never without one.
func (s *Server) NodeReady() <-chan struct{} { return s.nodeReady }

// Kubeconfig is the path of the admin kubeconfig.
func (s *Server) Kubeconfig() string { return s.kubeconfig }

// Run runs every component until ctx ends or one fails.
func (s *Server) Run(ctx context.Context) error {
	started := time.Now()
	o := s.cfg
	st, err := store.Open(store.Config{
		Dir:             o.DataDir,
		HistoryCount:    o.HistoryCount,
		HistoryAge:      o.HistoryAge,
		CompactInterval: o.CompactInterval,
		WatchWindow:     o.WatchWindow,
		Logger:          o.Logger,
	})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	s.log.Info("store ready", "dir", o.DataDir, "revision", st.Revision(), "took", time.Since(started).Round(time.Microsecond))

	tlsDir := filepath.Join(o.DataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return err
	}
	advertise := s.advertiseAddress()
	dnsNames, ips, err := servingNames(o.BindAddress, o.ServiceCIDR, advertise)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.EnsureServing(tlsDir, "serving-kube-apiserver", dnsNames, ips)
	if err != nil {
		return err
	}
	saKey, err := pki.LoadOrCreateKey(filepath.Join(tlsDir, "service-account.key"))
	if err != nil {
		return err
	}
	reg, err := registry.Builtin()
	if err != nil {
		return err
	}
	api, err := apiserver.New(apiserver.Config{
		Store: st, Registry: reg, CA: ca, CertPEM: certPEM, KeyPEM: keyPEM, ServiceAccountKey: saKey,
		Listen: net.JoinHostPort(o.BindAddress, strconv.Itoa(o.HTTPSPort)), Logger: o.Logger,
		ServiceCIDR: o.ServiceCIDR, NodePortRange: o.NodePortRange, AdvertiseAddress: advertise,
		Components: s.componentProbes(), ClusterCIDR: o.ClusterCIDR,
	})
	if err != nil {
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return st.Run(ctx) })
	g.Go(func() error { return api.Run(ctx) })
	g.Go(func() error {
		select {
		case <-ctx.Done():
			return nil
		case <-api.Ready():
		}
		if err := writeAdminKubeconfig(ca, s.kubeconfig, api.Addr()); err != nil {
			return err
		}
		s.addr = api.Addr()
		if err := s.ensureJoinToken(ctx, ca); err != nil {
			if ctx.Err() != nil {
				return nil // stopped while starting
			}
			return err
		}
		if err := s.buildSimNodes(ca); err != nil {
			return err
		}
		close(s.ready)
		s.log.Info("ready", "api", "https://"+api.Addr(), "kubeconfig", s.kubeconfig,
			"took", time.Since(started).Round(time.Millisecond))
		return s.runCluster(ctx, ca, api.Addr())
	})
	err = g.Wait()
	s.log.Info("stopped")
	return err
}

// runCluster runs the control plane, the simulated nodes, the deploy
// controller and this machine's node.
func (s *Server) runCluster(ctx context.Context, ca *pki.CA, apiAddr string) error {
	// Built before anything runs: an error here leaves nothing behind.
	dep, err := s.newDeployer(ca, apiAddr)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	cpCfg := controlplane.Config{RootCA: ca.CertPEM, ClusterCIDR: s.cfg.ClusterCIDR, LBPool: s.cfg.LBPool, Timing: s.cfg.Timing, Logger: s.cfg.Logger}
	if !s.cfg.DisableControllerManager {
		if cpCfg.Controllers, err = loopbackConfig(ca, apiAddr, identityControllerManager); err != nil {
			return err
		}
	}
	if !s.cfg.DisableScheduler {
		if cpCfg.Scheduler, err = loopbackConfig(ca, apiAddr, identityScheduler); err != nil {
			return err
		}
	}
	if cpCfg.Controllers != nil || cpCfg.Scheduler != nil {
		cp, err := controlplane.New(cpCfg)
		if err != nil {
			return err
		}
		s.controlPlaneRunning.Store(true)
		g.Go(func() error {
			defer s.controlPlaneRunning.Store(false)
			return cp.Run(ctx)
		})
	}
	if s.simNodes != nil {
		g.Go(func() error { return s.simNodes.Run(ctx) })
	}
	g.Go(func() error { return dep.Run(ctx) })
	if s.cfg.Node != nil {
		g.Go(func() error { return s.runNode(ctx, ca, apiAddr) })
	}
	return g.Wait()
}

// TokenFile is where a server keeps its default join token (`mini token`
// prints it).
func TokenFile(dataDir string) string { return filepath.Join(dataDir, "token") }

// ensureJoinToken makes the default join token on first start and keeps
// it on later ones (pki.EnsureDefaultToken), before the server is Ready.
func (s *Server) ensureJoinToken(ctx context.Context, ca *pki.CA) error {
	cfg, err := loopbackConfig(ca, s.addr, identity{"system:mini-server", []string{"system:masters"}, "mini-server"})
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	_, err = pki.EnsureDefaultToken(ctx, client.CoreV1().Secrets(metav1.NamespaceSystem), TokenFile(s.cfg.DataDir), ca.CertPEM)
	return err
}

// componentProbes answer componentstatuses for the scheduler and the
// controller manager this server runs.
func (s *Server) componentProbes() map[string]func(context.Context) error {
	running := func(context.Context) error {
		if !s.controlPlaneRunning.Load() {
			return errors.New("not running: the server is starting or stopping")
		}
		return nil
	}
	probes := map[string]func(context.Context) error{}
	if !s.cfg.DisableScheduler {
		probes["scheduler"] = running
	}
	if !s.cfg.DisableControllerManager {
		probes["controller-manager"] = running
	}
	return probes
}

// buildSimNodes makes the simulated nodes, if any; they act as members of
// system:nodes, as a real node's agent does.
func (s *Server) buildSimNodes(ca *pki.CA) error {
	if s.cfg.SimNodes == 0 {
		return nil
	}
	cfg, err := loopbackConfig(ca, s.addr, identitySimNodes)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s.simNodes, err = simnodes.New(simnodes.Config{Client: client, Count: s.cfg.SimNodes,
		LeaseDuration: s.cfg.NodeLeaseDuration, Logger: s.cfg.Logger})
	return err
}

// servingNames are the names and addresses the API's certificate must
// carry: loopback, this host, the in-cluster names of the kubernetes
// Service and its ClusterIP (the service CIDR's first address), the bind
// address, the advertise address and the host's addresses. Computed at
// every start, so that the certificate follows a host whose address
// changed (EnsureServing reissues it when one is missing).
func servingNames(bindAddress, serviceCIDR, advertise string) ([]string, []net.IP, error) {
	prefix, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-cidr: %w", err)
	}
	names := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if host, err := os.Hostname(); err == nil && host != "" {
		names = append(names, host)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IP(prefix.Masked().Addr().Next().AsSlice())}
	for _, a := range []string{bindAddress, advertise} {
		if ip := net.ParseIP(a); ip != nil && !ip.IsUnspecified() && !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	return names, ips, nil
}

// defaultAdvertiseAddress is this host's first non-loopback IPv4 address
// (link-local ones excepted: endpoints may not use them), else 127.0.0.1.
func defaultAdvertiseAddress() string {
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// writeAdminKubeconfig writes a kubeconfig for a cluster administrator
// (group system:masters) that reaches the API on loopback.
func writeAdminKubeconfig(ca *pki.CA, path, apiAddr string) error {
	_, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.Issue(pki.Request{CommonName: "system:admin", Organization: []string{"system:masters"}})
	if err != nil {
		return err
	}
	b, err := pki.Kubeconfig{Server: "https://" + net.JoinHostPort("127.0.0.1", port), Name: "mini",
		CAPEM: ca.CertPEM, CertPEM: certPEM, KeyPEM: keyPEM}.Bytes()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return pki.WriteFileAtomic(path, b, 0o600)
}
