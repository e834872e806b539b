package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/benchutil"
)

// Spec says what cluster to build.
type Spec struct {
	// Bin is the mini binary.
	Bin string
	// Prefix names the hosts (1-10 of [a-z0-9]).
	Prefix string
	// Backend is --flannel-backend: vxlan, host-gw or none.
	Backend string
	// Nodes run mini: host 0 the server (with its node), the others
	// agents that join it. Spare hosts are built beside them, running
	// nothing, for tests that start agents of their own.
	Nodes, Spare int
	// ClusterCIDR is --cluster-cidr. Clusters run side by side should
	// differ, so that the root namespace's conntrack (which sees bridged
	// frames under br_netfilter) never holds two flows alike.
	ClusterCIDR string
	// FirstNet picks the hosts' subnet: 10.99.(20+FirstNet).0/24 if free.
	FirstNet int
	// Images are image tars imported into every node.
	Images []string
	// LBPool gives the server --lb-pool with the hosts' Net.100-109.
	LBPool bool
}

// Cluster is a multi-node cluster on hosts of its own. New lays it out,
// Start builds and starts it, Teardown removes everything, whatever
// happened in between.
type Cluster struct {
	Spec  Spec
	Hosts *Hosts
	// Dir holds every node's data dir and log; short, for socket paths.
	Dir   string
	Nodes []*Node
	// Token is the server's join token.
	Token string
	// Log gets mini-hosts' output and the harness's notes.
	Log *os.File

	mu   sync.Mutex
	torn bool
}

// New makes the cluster's directory under /tmp; nothing runs yet.
func New(spec Spec) (*Cluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("a cluster needs a node")
	}
	dir, err := os.MkdirTemp("/tmp", spec.Prefix+"-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Spec: spec, Dir: dir}
	if c.Log, err = os.Create(filepath.Join(dir, "harness.log")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

// Home is HOME for the processes the harness runs (kubectl's cache).
func (c *Cluster) Home() string { return filepath.Join(c.Dir, "home") }

// Kubeconfig is the server's admin kubeconfig (its address is loopback
// in the server's host: use Kubectl, which runs there).
func (c *Cluster) Kubeconfig() string { return filepath.Join(c.Nodes[0].DataDir, "kubeconfig.yaml") }

// Server is the API's URL as agents join it.
func (c *Cluster) Server() string { return "https://" + c.Hosts.Addr(0) + ":6443" }

// Start builds the hosts, starts the server and the agents, waits until
// every node is Ready and imports the images into each.
func (c *Cluster) Start() error {
	spec := c.Spec
	var err error
	if c.Hosts, err = UpHosts(spec.Prefix, spec.Nodes+spec.Spare, spec.FirstNet, c.Log); err != nil {
		return err
	}
	server := c.NewNode(0, c.NodeName(0), filepath.Join(c.Dir, "h0"))
	c.Nodes = append(c.Nodes, server)
	server.Args = append([]string{"server",
		"--data-dir", server.DataDir, "--node-name", server.Name, "--node-ip", server.IP,
		"--advertise-address", server.IP, "--bind-address", "0.0.0.0",
		"--https-listen-port", "6443", "--kubelet-port", "10250",
		"--cluster-cidr", spec.ClusterCIDR, "--flannel-backend", spec.Backend},
		server.HiddenArgs()...)
	if spec.LBPool {
		server.Args = append(server.Args, "--lb-pool", c.Hosts.PoolAddr(0)+"-"+c.Hosts.PoolAddr(9))
	}
	if err := server.Start(); err != nil {
		return err
	}
	if err := server.waitFile(c.Kubeconfig(), 60*time.Second); err != nil {
		return err
	}
	if err := c.WaitNodesReady([]string{server.Name}, 90*time.Second); err != nil {
		return err
	}
	if c.Token, err = c.NewToken(); err != nil {
		return err
	}
	for i := 1; i < spec.Nodes; i++ {
		a := c.NewNode(i, c.NodeName(i), filepath.Join(c.Dir, fmt.Sprintf("h%d", i)))
		a.Args = c.AgentArgs(a, c.Token)
		c.Nodes = append(c.Nodes, a)
		if err := a.Start(); err != nil {
			return err
		}
	}
	if err := c.WaitNodesReady(c.NodeNames(), 90*time.Second); err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Nodes))
	for i, n := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.ImportImages(spec.Images)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// NodeName is the name of host i's node.
func (c *Cluster) NodeName(i int) string { return fmt.Sprintf("%s-n%d", c.Spec.Backend, i) }

// AgentArgs are `mini agent --join` of node n with token.
func (c *Cluster) AgentArgs(n *Node, token string) []string {
	return append([]string{"agent",
		"--join", c.Server(), "--token", token,
		"--data-dir", n.DataDir, "--node-name", n.Name, "--node-ip", n.IP,
		"--kubelet-port", "10250", "--flannel-backend", c.Spec.Backend},
		n.HiddenArgs()...)
}

// NewToken asks the server for its join token, as `mini token` on the
// server's machine.
func (c *Cluster) NewToken() (string, error) {
	cmd := exec.Command(c.Spec.Bin, "token", "--data-dir", c.Nodes[0].DataDir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("mini token: %w: %s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	if token == "" || strings.Contains(token, "\n") {
		return "", fmt.Errorf("mini token printed %q, want one token", out.String())
	}
	return token, nil
}

// NodeNames are the cluster's nodes' names.
func (c *Cluster) NodeNames() []string {
	var names []string
	for _, n := range c.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// WaitNodesReady waits until every named node is Ready, failing at once
// if a node's process exits.
func (c *Cluster) WaitNodesReady(names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for {
		for _, n := range c.Nodes {
			if n.cmd != nil && !n.Running() {
				return fmt.Errorf("%s exited (%v):\n%s", n.Name, n.waitErr, TailFile(n.LogPath, 40))
			}
		}
		var list corev1.NodeList
		out, errOut, err := c.Kubectl(30*time.Second, "", "get", "nodes", "-o", "json")
		if err == nil && json.Unmarshal([]byte(out), &list) == nil {
			ready := map[string]bool{}
			for _, node := range list.Items {
				for _, cond := range node.Status.Conditions {
					if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
						ready[node.Name] = true
					}
				}
			}
			all := true
			for _, name := range names {
				all = all && ready[name]
			}
			if all {
				return nil
			}
			last = fmt.Sprintf("ready: %v", ready)
		} else {
			last = fmt.Sprintf("%v %s", err, errOut)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nodes %v not Ready within %s (%s)", names, timeout, last)
		}
		time.Sleep(250 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// Kubectl runs the bundled kubectl in the server's host with the admin
// kubeconfig and stdin, killing it after timeout.
func (c *Cluster) Kubectl(timeout time.Duration, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := InNS(c.Hosts.NS(0), append([]string{c.Spec.Bin, "kubectl", "--kubeconfig", c.Kubeconfig()}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+c.Home())
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// Run runs argv in network namespace ns and returns its combined output.
func (c *Cluster) Run(timeout time.Duration, ns string, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := InNS(ns, argv...)
	out, err := exec.CommandContext(ctx, full[0], full[1:]...).CombinedOutput()
	return string(out), err
}

// Teardown kills every node, removes the hosts and whatever the nodes
// left under Dir. It runs once; later calls return nil.
func (c *Cluster) Teardown(w io.Writer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.torn {
		return nil
	}
	c.torn = true
	var errs []string
	for _, n := range c.Nodes {
		n.Kill()
	}
	if c.Hosts != nil {
		if err := c.Hosts.Down(w); err != nil {
			errs = append(errs, err.Error())
		}
	}
	// The nodes' containerd and shims died with their hosts; these catch
	// anything that escaped, and mounts a node made in the root's mount
	// namespace.
	for _, leak := range benchutil.KillProcessesUnder(c.Dir) {
		fmt.Fprintf(w, "harness: killed %s\n", leak)
	}
	for _, m := range benchutil.UnmountUnder(c.Dir) {
		fmt.Fprintf(w, "harness: unmounted %s\n", m)
	}
	c.Log.Close()
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// PrintLogs writes the end of every node's log and of the harness's.
func (c *Cluster) PrintLogs(w io.Writer, lines int) {
	for _, n := range c.Nodes {
		fmt.Fprintf(w, "--- last %d lines of %s (%s)\n%s\n", lines, n.LogPath, n.Name, TailFile(n.LogPath, lines))
	}
	fmt.Fprintf(w, "--- %s\n%s\n", c.Log.Name(), TailFile(c.Log.Name(), lines))
}
