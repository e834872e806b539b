package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"mini.dev/mini/internal/agent/host"
	"mini.dev/mini/internal/join"
	"mini.dev/mini/internal/noderole"
)

// agentOptions are the flags of `mini agent`.
type agentOptions struct {
	server, token            string
	nodeName, nodeIP         string
	dataDir                  string
	containerRuntimeEndpoint string
	kubeletPort              int
	clusterDNS               string
	clusterDomain            string
	netnsDir                 string
	network                  noderole.NetworkConfig
	verbose                  bool
}

// tokenEnv carries the token when it should not show in `ps`, as K3S_TOKEN.
const tokenEnv = "MINI_TOKEN"

func newAgentCommand(streams Streams) *cobra.Command {
	o := agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent --join https://SERVER:6443 --token TOKEN",
		Short: "Join a server's cluster as a node and run the node role: containerd, pod network and the node agent",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(streams.Err, o.verbose)
			if o.token == "" {
				o.token = os.Getenv(tokenEnv)
			}
			err := runAgent(cmd.Context(), o, logger)
			if cmd.Context().Err() != nil {
				return nil // stopped by a signal
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "join", "", "URL of the server to join, https://SERVER:6443")
	f.StringVar(&o.token, "token", "", "the server's join token (`mini token` on the server; or $"+tokenEnv+")")
	f.StringVar(&o.nodeName, "node-name", "", "this machine's node name (default: the host name)")
	f.StringVar(&o.nodeIP, "node-ip", "", "this node's InternalIP (default: the source address towards the server)")
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir, "directory holding the node's state (not a server's)")
	f.StringVar(&o.containerRuntimeEndpoint, "container-runtime-endpoint", "",
		"socket of an existing containerd to run pods with (default: mini runs its own under <data-dir>/agent/containerd)")
	f.IntVar(&o.kubeletPort, "kubelet-port", 10250, "port of the node's endpoint for logs, exec, attach and port-forward (0 picks a free one)")
	f.StringVar(&o.clusterDNS, "cluster-dns", "10.43.0.10", "cluster DNS address written into pods' resolv.conf")
	f.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "log debug messages")
	addNodeNetworkFlags(f, &o.network)
	addNetNSDirFlag(cmd, &o.netnsDir)
	_ = cmd.MarkFlagRequired("join")
	return cmd
}

// addNetNSDirFlag adds the hidden --netns-dir: where pod network
// namespaces are kept (default /run/mini/netns). Only tests running
// several nodes on one machine, each in its own network namespace but
// sharing /run, need it.
func addNetNSDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "netns-dir", "", "where pod network namespaces are kept (default /run/mini/netns)")
	_ = cmd.Flags().MarkHidden("netns-dir")
}

// runAgent joins the server (or reuses the identity kept from an earlier
// join) and runs the node role until ctx ends.
func runAgent(ctx context.Context, o agentOptions, logger *slog.Logger) error {
	if o.token == "" {
		return fmt.Errorf("a join token is required: --token or $%s (run `mini token` on the server)", tokenEnv)
	}
	server, err := join.ServerURL(o.server)
	if err != nil {
		return fmt.Errorf("--join: %w", err)
	}
	// One machine is a server or an agent: they would share the node's
	// state under <data-dir>/agent.
	if _, err := os.Stat(filepath.Join(o.dataDir, "tls", "ca.key")); err == nil {
		return fmt.Errorf("%s holds a server's state: give the agent another --data-dir", o.dataDir)
	}
	if err := preflight(o.dataDir, &o.network, true); err != nil {
		return err
	}
	name, err := noderole.Name(o.nodeName)
	if err != nil {
		return err
	}
	nodeIP := o.nodeIP
	if nodeIP == "" {
		nodeIP = join.LocalIPFor(server)
	}
	if nodeIP, err = host.NodeIP(nodeIP); err != nil {
		return err
	}
	dir := filepath.Join(o.dataDir, "agent")
	id, err := join.Join(ctx, join.Config{Server: server, Token: o.token, NodeName: name, NodeIP: nodeIP,
		Dir: filepath.Join(dir, "identity"), Logger: logger})
	if err != nil {
		return err
	}
	node, err := noderole.New(noderole.Config{
		NodeName: name, NodeIP: nodeIP, Dir: dir, REST: id.RESTConfig("mini-agent/" + name),
		ServingCertPEM: id.ServingCertPEM, ServingKeyPEM: id.ServingKeyPEM, ClientCAs: id.CAPool(),
		ClusterCIDR: id.ClusterCIDR, ContainerRuntimeEndpoint: o.containerRuntimeEndpoint, KubeletPort: o.kubeletPort,
		ClusterDNS: o.clusterDNS, ClusterDomain: o.clusterDomain, NetNSDir: o.netnsDir, Network: o.network, Logger: logger,
	})
	if err != nil {
		return err
	}
	err = node.Run(ctx)
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return nil
	}
	return err
}
