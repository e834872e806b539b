package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/controlplane"
	"mini.dev/mini/internal/server"
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
	clusterCIDR      string
	lbPool           string
	// Cluster.
	simNodes               int
	disableScheduler       bool
	disableControllers     bool
	pprofAddress           string
	nodeMonitorGracePeriod time.Duration
	disable                []string
	// This machine's node.
	node server.NodeConfig
}

func newServerCommand(streams Streams) *cobra.Command {
	o := serverOptions{}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: the store and the Kubernetes API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(streams.Err, o.verbose)
			return runServer(cmd.Context(), o, logger)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir, "directory holding the cluster's state")
	f.IntVar(&o.httpsPort, "https-listen-port", 6443, "port the API listens on (0 picks a free one)")
	f.StringVar(&o.bindAddress, "bind-address", "0.0.0.0", "address the API listens on")
	f.StringVar(&o.writeKubeconfig, "write-kubeconfig", "", "where to write the admin kubeconfig (default <data-dir>/kubeconfig.yaml)")
	f.BoolVar(&o.disableAgent, "disable-agent", false, "run no node agent on this machine (control plane only)")
	f.StringVar(&o.node.Name, "node-name", "", "this machine's node name (default: the host name)")
	f.StringVar(&o.node.IP, "node-ip", "", "this node's InternalIP (default: the source address of the default route)")
	f.StringVar(&o.node.ContainerRuntimeEndpoint, "container-runtime-endpoint", "",
		"socket of an existing containerd to run pods with (default: mini runs its own under <data-dir>/agent/containerd)")
	f.IntVar(&o.node.KubeletPort, "kubelet-port", 10250, "port of the node's endpoint for logs, exec, attach and port-forward (0 picks a free one)")
	f.StringVar(&o.node.ClusterDNS, "cluster-dns", "10.43.0.10", "cluster DNS address written into pods' resolv.conf")
	f.StringVar(&o.node.ClusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	addNetNSDirFlag(cmd, &o.node.NetNSDir)
	addNodeNetworkFlags(f, &o.node.Network)
	f.StringVar(&o.lbPool, "lb-pool", "",
		"addresses START-END LoadBalancer Services get, each answered by one node (default: the Services get the nodes' addresses)")
	f.Int64Var(&o.historyCount, "history-count", store.DefaultHistoryCount, "events of history kept for watches and paged lists")
	f.DurationVar(&o.historyAge, "history-age", store.DefaultHistoryAge, "age past which history is compacted")
	f.DurationVar(&o.compactInterval, "compact-interval", store.DefaultCompactInterval, "how often history is compacted")
	f.IntVar(&o.watchWindow, "watch-window", store.DefaultWatchWindow, "recent events kept in memory for watchers")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log debug messages")
	f.StringVar(&o.serviceCIDR, "service-cidr", "10.43.0.0/16", "IPv4 network from which Service cluster IPs are allocated")
	f.StringVar(&o.nodePortRange, "service-node-port-range", "30000-32767", "port range reserved for Services of type NodePort and LoadBalancer")
	f.StringVar(&o.advertiseAddress, "advertise-address", "",
		"IP address the kubernetes Service's endpoints point at (default: this host's first non-loopback IPv4 address, else 127.0.0.1)")
	f.StringVar(&o.clusterCIDR, "cluster-cidr", "10.42.0.0/16", "IPv4 network from which each node gets a /24 for its pods")
	f.IntVar(&o.simNodes, "sim-nodes", 0, "run this many simulated nodes (sim-0, sim-1, ...) whose pods run no processes")
	f.BoolVar(&o.disableScheduler, "disable-scheduler", false, "run no scheduler (pods stay Pending unless another scheduler binds them)")
	f.BoolVar(&o.disableControllers, "disable-controller-manager", false, "run none of the controllers")
	f.StringVar(&o.pprofAddress, "pprof-address", "", "serve Go profiles at http://ADDRESS/debug/pprof/ (e.g. 127.0.0.1:6060; default off)")
	f.StringSliceVar(&o.disable, "disable", nil,
		"leave out the manifest NAME (built-in, e.g. kube-dns, or NAME.yaml under <data-dir>/manifests) and delete what it deployed; repeatable, or comma-separated")
	f.DurationVar(&o.nodeMonitorGracePeriod, "node-monitor-grace-period", 40*time.Second,
		"how long a node may go without a heartbeat before it is marked NotReady")
	return cmd
}

// defaultDataDir is where mini keeps its state unless told otherwise.
const defaultDataDir = "/var/lib/mini"

// runServer runs the server until ctx ends; once it is up, it gives back
// the memory start-up used.
func runServer(ctx context.Context, o serverOptions, logger *slog.Logger) error {
	if err := preflight(o.dataDir, serverNodeNetwork(o), true); err != nil {
		return err
	}
	cfg := server.Config{
		DataDir: o.dataDir, BindAddress: o.bindAddress, HTTPSPort: o.httpsPort, WriteKubeconfig: o.writeKubeconfig,
		HistoryCount: o.historyCount, HistoryAge: o.historyAge, CompactInterval: o.compactInterval, WatchWindow: o.watchWindow,
		ServiceCIDR: o.serviceCIDR, ClusterCIDR: o.clusterCIDR, NodePortRange: o.nodePortRange, AdvertiseAddress: o.advertiseAddress, LBPool: o.lbPool,
		Disable: o.disable, SimNodes: o.simNodes, DisableScheduler: o.disableScheduler, DisableControllerManager: o.disableControllers, Timing: controlplane.Timing{NodeMonitorGracePeriod: o.nodeMonitorGracePeriod},
		Logger: logger,
	}
	if !o.disableAgent {
		node := o.node
		cfg.Node = &node
	}
	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.pprofAddress != "" {
		go func() {
			if err := servePprof(ctx, o.pprofAddress, logger); err != nil {
				logger.Error("profiles not served", "component", "server", "err", err)
			}
		}()
	}
	go func() {
		select {
		case <-srv.Ready():
			trimMemory()
			tuneGC(ctx)
		case <-ctx.Done():
		}
	}()
	return srv.Run(ctx)
}
