package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"mini.dev/mini/internal/apiserver"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// serverOptions are the flags of `mini server`.
type serverOptions struct {
	dataDir         string
	httpsPort       int
	bindAddress     string
	writeKubeconfig string
	disableAgent    bool
	historyCount    int64
	historyAge      time.Duration
	compactInterval time.Duration
	watchWindow     int
	verbose         bool
	// Services.
	serviceCIDR      string
	nodePortRange    string
	advertiseAddress string
}

func newServerCommand(streams Streams) *cobra.Command {
	o := serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: the store and the Kubernetes API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if o.verbose {
				level = slog.LevelDebug
			}
			logger := slog.New(slog.NewTextHandler(streams.Err, &slog.HandlerOptions{Level: level}))
			return runServer(cmd.Context(), o, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	f.IntVar(&o.httpsPort, "https-listen-port", 6443, "port the API listens on (0 picks a free one)")
	f.StringVar(&o.bindAddress, "bind-address", "0.0.0.0", "address the API listens on")
	f.StringVar(&o.writeKubeconfig, "write-kubeconfig", "", "where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)")
	f.BoolVar(&o.disableAgent, "disable-agent", false, "run no node agent on this machine (none runs yet)")
	f.Int64Var(&o.historyCount, "history-count", store.DefaultHistoryCount, "events of history kept for watches and paged lists")
	f.DurationVar(&o.historyAge, "history-age", store.DefaultHistoryAge, "age past which history is compacted")
	f.DurationVar(&o.compactInterval, "compact-interval", store.DefaultCompactInterval, "how often history is compacted")
	f.IntVar(&o.watchWindow, "watch-window", store.DefaultWatchWindow, "recent events kept in memory for watchers")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log debug messages")
	f.StringVar(&o.serviceCIDR, "service-cidr", "10.43.0.0/16", "IPv4 network from which Service cluster IPs are allocated")
	f.StringVar(&o.nodePortRange, "service-node-port-range", "30000-32767", "port range reserved for Services of type NodePort and LoadBalancer")
	f.StringVar(&o.advertiseAddress, "advertise-address", "",
		"IP address the kubernetes Service's endpoints point at (default: this host's first non-loopback IPv4 address, else 127.0.0.1)")
	return cmd
}

// defaultDataDir is where mini keeps its state unless told otherwise.
const defaultDataDir = "/var/lib/mini"

// runServer wires the components and runs them until ctx ends.
func runServer(ctx context.Context, o serverOptions, logger *slog.Logger) error {
	started := time.Now()
	st, err := store.Open(store.Config{
		Dir:             o.dataDir,
		HistoryCount:    o.historyCount,
		HistoryAge:      o.historyAge,
		CompactInterval: o.compactInterval,
		WatchWindow:     o.watchWindow,
		Logger:          logger,
	})
	if err != nil {
		return fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	logger.Info("store ready", "component", "server", "dir", o.dataDir,
		"revision", st.Revision(), "took", time.Since(started).Round(time.Microsecond))

	tlsDir := filepath.Join(o.dataDir, "tls")
	ca, err := pki.LoadOrCreateCA(tlsDir)
	if err != nil {
		return err
	}
	dnsNames, ips, err := servingNames(o.bindAddress, o.serviceCIDR)
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
	advertise := o.advertiseAddress
	if advertise == "" {
		advertise = defaultAdvertiseAddress()
	} else if net.ParseIP(advertise) == nil {
		return fmt.Errorf("--advertise-address: %q is not an IP address", advertise)
	}
	api, err := apiserver.New(apiserver.Config{
		Store: st, Registry: reg, CA: ca, CertPEM: certPEM, KeyPEM: keyPEM, ServiceAccountKey: saKey,
		Listen: net.JoinHostPort(o.bindAddress, strconv.Itoa(o.httpsPort)), Logger: logger,
		ServiceCIDR: o.serviceCIDR, NodePortRange: o.nodePortRange, AdvertiseAddress: advertise,
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
		path := o.writeKubeconfig
		if path == "" {
			path = filepath.Join(o.dataDir, "kubeconfig.yaml")
		}
		if err := writeAdminKubeconfig(ca, path, api.Addr()); err != nil {
			return err
		}
		logger.Info("ready", "component", "server", "api", "https://"+api.Addr(), "kubeconfig", path,
			"took", time.Since(started).Round(time.Millisecond))
		trimMemory()
		loopback, err := loopbackConfig(ca, api.Addr())
		if err != nil {
			return err
		}
		return runControllers(ctx, loopback, logger)
	})
	err = g.Wait()
	logger.Info("stopped", "component", "server")
	return err
}

// servingNames are the names and addresses the API's certificate must
// carry: loopback, this host, the in-cluster names of the kubernetes
// Service and its ClusterIP (the service CIDR's first address), and the
// bind address.
func servingNames(bindAddress, serviceCIDR string) ([]string, []net.IP, error) {
	prefix, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return nil, nil, fmt.Errorf("--service-cidr: %w", err)
	}
	names := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if host, err := os.Hostname(); err == nil && host != "" {
		names = append(names, host)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IP(prefix.Masked().Addr().Next().AsSlice())}
	if ip := net.ParseIP(bindAddress); ip != nil && !ip.IsUnspecified() {
		ips = append(ips, ip)
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
