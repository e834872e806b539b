package nodetest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mini.dev/mini/internal/cli"
	"mini.dev/mini/internal/noderole"
	"mini.dev/mini/internal/server"
)

// kubectlChildEnv makes the test binary act as `mini kubectl`: kubectl
// exits the process on errors, so it runs as a child, as a user runs it.
const kubectlChildEnv = "MINI_NODETEST_KUBECTL"

// nodeName is the shared server's node.
const nodeName = "node-e2e"

func TestMain(m *testing.M) {
	if os.Getenv(kubectlChildEnv) == "1" {
		err := cli.Run(context.Background(), append([]string{"kubectl"}, os.Args[1:]...),
			cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	if os.Getenv(serverChildEnv) != "" {
		os.Exit(runServerChild())
	}
	code := m.Run()
	if shared.n != nil {
		if err := shared.n.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "nodetest: stopping the node: %v\n", err)
			code = 1
		}
		if code != 0 {
			shared.n.printLogTail(os.Stderr, 150)
		}
		shared.n.removeDir()
	}
	os.Exit(code)
}

// nodesStarted counts the nodes this run started, whose network state
// the end of the run removes.
var nodesStarted atomic.Int32

// shared is the one server every test of the package uses, started by the
// first test that asks for it.
var shared struct {
	once sync.Once
	n    *node
	err  error
}

// skipUnlessNodeCanRun skips t when this machine cannot run a real node.
func skipUnlessNodeCanRun(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the real node (-short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the real node needs root")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", bin)
		}
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static not installed (scripts/install-deps.sh)")
	}
}

// sharedNode returns the package's node, starting it on first use.
func sharedNode(t *testing.T) *node {
	t.Helper()
	skipUnlessNodeCanRun(t)
	shared.once.Do(func() {
		shared.n, shared.err = startSharedNode()
	})
	if shared.err != nil {
		t.Fatalf("starting the node: %v", shared.err)
	}
	return shared.n
}

// node is a running `mini server` with its real node.
type node struct {
	dir        string // the short temp dir holding everything below
	dataDir    string
	home       string
	kubeconfig string
	logPath    string
	bridge     string
	netnsDir   string
	// stopServer stops the server, in this process or a child.
	stopServer func() error
	logFile    *os.File
}

// nodeDirs lays out a node under a fresh short temp dir: socket paths
// under it must stay within 108 bytes.
func nodeDirs(prefix string) (*node, error) {
	dir, err := os.MkdirTemp("/tmp", "mn")
	if err != nil {
		return nil, err
	}
	n := &node{
		dir:      dir,
		dataDir:  filepath.Join(dir, "d"),
		home:     filepath.Join(dir, "home"),
		logPath:  filepath.Join(dir, "server.log"),
		netnsDir: filepath.Join(dir, "netns"),
		// At most 15 bytes, unique per test process.
		bridge: fmt.Sprintf("%s%d", prefix, os.Getpid()%1000000),
	}
	n.kubeconfig = filepath.Join(n.dataDir, "kubeconfig.yaml")
	nodesStarted.Add(1)
	return n, nil
}

func (n *node) serverConfig(name, clusterCIDR string, logger *slog.Logger) server.Config {
	return server.Config{
		DataDir: n.dataDir, BindAddress: "127.0.0.1", HTTPSPort: 0, AdvertiseAddress: "127.0.0.1",
		ClusterCIDR: clusterCIDR, Logger: logger,
		Node: &server.NodeConfig{Name: name, IP: "127.0.0.1", KubeletPort: 0, Bridge: n.bridge, NetNSDir: n.netnsDir,
			// Several nodes share this network namespace: the overlay,
			// proxy and DNS (tested by multinodetest) would collide.
			Network: noderole.NetworkConfig{DisableOverlay: true, DisableProxy: true, DisableDNS: true}},
	}
}

// startSharedNode runs the server in this process until TestMain stops
// it, waits for its node to be Ready and imports the test images.
func startSharedNode() (*node, error) {
	n, err := nodeDirs("mnt")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			if n.stopServer != nil {
				n.stopServer()
			}
			cleanupLeftovers(n.dir, n.bridge, n.netnsDir)
			n.printLogTail(os.Stderr, 150)
			n.removeDir()
		}
	}()
	n.logFile, err = os.Create(n.logPath)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(n.logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(n.serverConfig(nodeName, "10.244.0.0/16", logger))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	n.stopServer = func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("server did not stop in 60s")
		}
	}
	select {
	case <-srv.Ready():
	case err := <-done:
		done <- err
		return nil, fmt.Errorf("server: %w", err)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("server not ready in 60s")
	}
	if err := n.waitNodeReady(nodeName, 60*time.Second); err != nil {
		return nil, err
	}
	if err := importTestImages(ctx, n.dataDir); err != nil {
		return nil, fmt.Errorf("importing the test images: %w", err)
	}
	ok = true
	return n, nil
}

// waitNodeReady waits until the node is registered, then Ready.
func (n *node) waitNodeReady(name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		// `kubectl wait` fails at once on a node not registered yet.
		_, _, err := n.run(nil, "", "get", "node", name)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %s not registered in %s", name, timeout)
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, not waiting for it
	}
	out, errOut, err := n.run(nil, "", "wait", "node/"+name, "--for=condition=Ready",
		fmt.Sprintf("--timeout=%ds", int(time.Until(deadline).Seconds())+1))
	if err != nil {
		return fmt.Errorf("node %s not Ready: %v\n%s%s", name, err, out, errOut)
	}
	return nil
}

// stop deletes every pod the tests left, so that their containers,
// network namespaces and shims go the way a user's would, then stops the
// server and removes whatever is still left of it.
func (n *node) stop() error {
	if n.stopServer == nil {
		return nil
	}
	var errs []string
	if err := n.deleteAllPods(90 * time.Second); err != nil {
		errs = append(errs, err.Error())
	}
	if err := n.stopServer(); err != nil {
		errs = append(errs, "server: "+err.Error())
	}
	n.stopServer = nil
	if leaks := cleanupLeftovers(n.dir, n.bridge, n.netnsDir); len(leaks) > 0 {
		errs = append(errs, "left behind after every pod was deleted: "+strings.Join(leaks, "; "))
	}
	if n.logFile != nil {
		n.logFile.Close()
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// deleteAllPods deletes the tests' namespaces and waits until no pod is
// left anywhere: the agent removes a pod's object only after its
// containers are gone.
func (n *node) deleteAllPods(timeout time.Duration) error {
	out, _, err := n.run(nil, "", "get", "namespaces", "-l", testNamespaceLabel, "-o", "name")
	if err == nil && strings.TrimSpace(out) != "" {
		args := append([]string{"delete", "--wait=false"}, lines(out)...)
		n.run(nil, "", args...)
	}
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, err := n.run(nil, "", "get", "pods", "-A", "--no-headers")
		if err == nil && strings.TrimSpace(out) == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pods still there %s after deleting them:\n%s%s", timeout, out, errOut)
		}
		time.Sleep(250 * time.Millisecond) // polling a condition, not waiting for it
	}
}

func (n *node) removeDir() {
	if err := os.RemoveAll(n.dir); err != nil {
		fmt.Fprintf(os.Stderr, "nodetest: %v\n", err)
	}
}

// printLogTail shows the end of the server's log, so that a failing run
// says what the node did.
func (n *node) printLogTail(w *os.File, count int) {
	data, err := os.ReadFile(n.logPath)
	if err != nil {
		return
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > count {
		all = all[len(all)-count:]
	}
	fmt.Fprintf(w, "--- last %d lines of %s\n%s\n---\n", len(all), n.logPath, strings.Join(all, "\n"))
}

// run runs the bundled kubectl with extra environment and stdin and
// returns stdout, stderr and its exit error.
func (n *node) run(env []string, stdin string, args ...string) (string, string, error) {
	return n.runTimeout(2*time.Minute, env, stdin, args...)
}

// runTimeout is run, killing kubectl after timeout.
func (n *node) runTimeout(timeout time.Duration, env []string, stdin string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := n.command(ctx, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// command is kubectl as a child process, not started.
func (n *node) command(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), kubectlChildEnv+"=1", "KUBECONFIG="+n.kubeconfig, "HOME="+n.home)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// testNamespaceLabel marks the namespaces tests make, so the end of the
// run can delete them all.
const testNamespaceLabel = "mini.dev/nodetest"

// ns is one test's namespace on the shared node; kubectl runs in it.
type ns struct {
	t    *testing.T
	n    *node
	name string
}

// newNamespace makes a namespace named after the test, deleted when it
// ends; on failure the namespace's pods and events are logged first.
func newNamespace(t *testing.T, n *node) *ns {
	t.Helper()
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	k := &ns{t: t, n: n, name: name}
	manifest := fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n    %s: \"true\"\n", name, testNamespaceLabel)
	if out, errOut, err := n.run(nil, manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating namespace %s: %v\n%s%s", name, err, out, errOut)
	}
	t.Cleanup(func() { n.run(nil, "", "delete", "namespace", name, "--wait=false") })
	t.Cleanup(func() {
		if t.Failed() {
			for _, args := range [][]string{{"get", "pods", "-o", "wide"}, {"get", "pods", "-o", "yaml"}, {"get", "events", "--sort-by=.lastTimestamp"}} {
				out, errOut, _ := k.run("", args...)
				t.Logf("kubectl %s:\n%s%s", strings.Join(args, " "), out, errOut)
			}
		}
	})
	// The service account admission needs the namespace's default
	// ServiceAccount, which its controller makes.
	k.eventually(30*time.Second, []string{"get", "serviceaccount", "default", "-o", "name"}, "serviceaccount/default")
	return k
}

// runEnv runs kubectl in the namespace with extra environment and stdin.
func (k *ns) runEnv(env []string, stdin string, args ...string) (string, string, error) {
	k.t.Helper()
	return k.n.run(env, stdin, append([]string{"-n", k.name}, args...)...)
}

// run runs kubectl in the namespace with stdin.
func (k *ns) run(stdin string, args ...string) (string, string, error) {
	k.t.Helper()
	return k.runEnv(nil, stdin, args...)
}

// kubectl runs kubectl in the namespace and fails the test if it fails.
func (k *ns) kubectl(args ...string) string {
	k.t.Helper()
	out, errOut, err := k.run("", args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// apply applies a manifest in the namespace.
func (k *ns) apply(manifest string) {
	k.t.Helper()
	if out, errOut, err := k.run(manifest, "apply", "-f", "-"); err != nil {
		k.t.Fatalf("kubectl apply: %v\n%s%s\n%s", err, out, errOut, manifest)
	}
}

// jsonpath reads one field of an object.
func (k *ns) jsonpath(object, path string) string {
	k.t.Helper()
	return k.kubectl("get", object, "-o", "jsonpath="+path)
}

// eventually runs kubectl until its output matches every pattern, and
// fails the test with the last output after the timeout.
func (k *ns) eventually(timeout time.Duration, args []string, patterns ...string) string {
	k.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, err := k.run("", args...)
		if err == nil && matchAll(out, patterns) {
			return out
		}
		if time.Now().After(deadline) {
			k.t.Fatalf("kubectl %s: after %s still\n%s%s\nwant %q", strings.Join(args, " "), timeout, out, errOut, patterns)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// waitField polls one field of an object until it matches pattern.
func (k *ns) waitField(timeout time.Duration, object, path, pattern string) string {
	k.t.Helper()
	return k.eventually(timeout, []string{"get", object, "-o", "jsonpath=" + path}, pattern)
}

func matchAll(s string, patterns []string) bool {
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			return false
		}
	}
	return true
}

// mustMatch fails the test unless s matches every pattern.
func mustMatch(t *testing.T, s string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			t.Fatalf("output does not match %q:\n%s", p, s)
		}
	}
}

// lines splits kubectl output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
