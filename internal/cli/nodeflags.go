package cli

import (
	"github.com/spf13/pflag"

	"mini.dev/mini/internal/noderole"
)

// addNodeNetworkFlags adds the flags of a node's network components,
// named as k3s names them, to `mini server` and `mini agent`.
func addNodeNetworkFlags(f *pflag.FlagSet, n *noderole.NetworkConfig) {
	f.StringVar(&n.FlannelBackend, "flannel-backend", "vxlan",
		"how pods reach pods on other nodes: vxlan, host-gw (nodes on one L2 network) or none")
	f.BoolVar(&n.DisableProxy, "disable-kube-proxy", false, "run no service proxy on this node")
}
