package server

import (
	"context"
	"net"
	"path/filepath"

	"golang.org/x/sync/errgroup"

	"mini.dev/mini/internal/agent/host"
	"mini.dev/mini/internal/noderole"
	"mini.dev/mini/internal/pki"
)

// NodeConfig is the real node `mini server` runs for its own machine:
// the node role (internal/noderole) that `mini agent` runs too, here over
// loopback with certificates from the server's own CA.
type NodeConfig struct {
	// Name defaults to the host name.
	Name string
	// IP is the node's InternalIP ("": the default route's source).
	IP string
	// ContainerRuntimeEndpoint is an existing containerd's socket; empty:
	// mini supervises its own under the data dir.
	ContainerRuntimeEndpoint string
	// KubeletPort is the node endpoint's port (0 picks a free one).
	KubeletPort int
	// ClusterDNS and ClusterDomain go into pods' resolv.conf.
	ClusterDNS    string
	ClusterDomain string
	// Bridge and NetNSDir name the pod network's bridge and where pod
	// network namespaces live (defaults mini0 and /run/mini/netns);
	// tests running several servers give each its own. A node with its
	// own bridge also gets its own nftables table (mini-podnet-<bridge>).
	Bridge   string
	NetNSDir string
	// Extra, when set, runs beside the node's components (see
	// noderole.Config.Extra).
	Extra func(ctx context.Context, env noderole.Env) error
	// Network says which network components the node runs.
	Network noderole.NetworkConfig
}

// nodeDir is where the node role keeps its state: containerd's, pod logs
// and volumes.
func nodeDir(dataDir string) string { return filepath.Join(dataDir, "agent") }

// runNode runs this machine's node: as system:node:<name> over loopback,
// its endpoint serving a certificate from the server's CA, labelled as
// the control plane's. s.nodeReady is closed once the Node is registered.
func (s *Server) runNode(ctx context.Context, ca *pki.CA, apiAddr string) error {
	nc := *s.cfg.Node
	name, err := noderole.Name(nc.Name)
	if err != nil {
		return err
	}
	nodeIP, err := host.NodeIP(nc.IP)
	if err != nil {
		return err
	}
	restCfg, err := loopbackConfig(ca, apiAddr, identity{"system:node:" + name, []string{"system:nodes"}, "mini-agent/" + name})
	if err != nil {
		return err
	}
	servingCert, servingKey, err := ca.Issue(pki.Request{CommonName: "system:node:" + name, Organization: []string{"system:nodes"},
		DNSNames: []string{name, "localhost"}, IPs: []net.IP{net.ParseIP(nodeIP), net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		return err
	}
	network := nc.Network
	if network.ServiceCIDR == "" {
		network.ServiceCIDR = s.cfg.ServiceCIDR
	}
	node, err := noderole.New(noderole.Config{
		NodeName: name, NodeIP: nodeIP, Dir: nodeDir(s.cfg.DataDir), REST: restCfg,
		ServingCertPEM: servingCert, ServingKeyPEM: servingKey, ClientCAs: ca.Pool(),
		ClusterCIDR: s.cfg.ClusterCIDR, Labels: map[string]string{noderole.ControlPlaneLabel: "true"},
		ContainerRuntimeEndpoint: nc.ContainerRuntimeEndpoint, KubeletPort: nc.KubeletPort,
		ClusterDNS: nc.ClusterDNS, ClusterDomain: nc.ClusterDomain, Bridge: nc.Bridge, NetNSDir: nc.NetNSDir,
		Extra: nc.Extra, Network: network, Logger: s.cfg.Logger,
	})
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return node.Run(ctx) })
	g.Go(func() error {
		select {
		case <-node.Ready():
			close(s.nodeReady)
		case <-ctx.Done():
		}
		return nil
	})
	return g.Wait()
}
