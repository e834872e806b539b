package cli

import "mini.dev/mini/internal/noderole"

// preflight runs the checks that turn a host problem into one line with
// a hint before a server or an agent starts: a data dir from a newer
// mini, a full disk and, when a node runs (node non-nil), a kernel
// without what its network needs. With record the data dir's format
// marker is written (the server and the agent do; start leaves it to the
// server it launches).
func preflight(dataDir string, node *noderole.NetworkConfig, record bool) error {
	if err := checkDataDirFormat(dataDir, false); err != nil {
		return err
	}
	if err := checkDiskSpace(dataDir); err != nil {
		return err
	}
	if node != nil {
		if err := noderole.CheckKernel(*node, noderole.KernelModules{}); err != nil {
			return err
		}
	}
	if record {
		return checkDataDirFormat(dataDir, true)
	}
	return nil
}

// serverNodeNetwork is the network of the server's own node, nil with
// --disable-agent.
func serverNodeNetwork(o serverOptions) *noderole.NetworkConfig {
	if o.disableAgent {
		return nil
	}
	return &o.node.Network
}
