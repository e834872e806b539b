package clustertest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"mini.dev/mini/internal/cli"
	"mini.dev/mini/internal/server"
	"mini.dev/mini/internal/simnodes"
)

// kubectlChildEnv makes the test binary act as `mini kubectl`: kubectl
// exits the process on errors, so it runs as a child, as a user runs it.
const kubectlChildEnv = "MINI_CLUSTERTEST_KUBECTL"

func TestMain(m *testing.M) {
	if os.Getenv(kubectlChildEnv) == "1" {
		err := cli.Run(context.Background(), append([]string{"kubectl"}, os.Args[1:]...),
			cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cluster is a running server with simulated nodes.
type cluster struct {
	t    *testing.T
	srv  *server.Server
	home string
}

// startCluster runs a server with the given number of simulated nodes
// until the test ends, and waits until they are all Ready. tune may
// adjust the configuration before the server starts.
func startCluster(t *testing.T, simNodes int, tune ...func(*server.Config)) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("whole-cluster test")
	}
	dir := t.TempDir()
	cfg := server.Config{
		DataDir: filepath.Join(dir, "data"), BindAddress: "127.0.0.1", HTTPSPort: 0,
		AdvertiseAddress: "127.0.0.1", SimNodes: simNodes, Logger: testLogger(t),
	}
	for _, f := range tune {
		f(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-srv.Ready():
	case err := <-done:
		t.Fatalf("server: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server not ready in 30s")
	}
	c := &cluster{t: t, srv: srv, home: filepath.Join(dir, "home")}
	if simNodes > 0 {
		// Registered first: `kubectl wait --all` fails on no nodes at all.
		select {
		case <-srv.SimNodes().Ready():
		case <-time.After(60 * time.Second):
			t.Fatal("sim nodes not registered in 60s")
		}
		c.kubectl("wait", "--for=condition=Ready", "nodes", "--all", "--timeout=60s")
	}
	return c
}

// testLogger logs to the test's output only when -v is given, so that a
// failing test shows what the server did.
func testLogger(t *testing.T) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (c *cluster) client() kubernetes.Interface {
	c.t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.srv.Kubeconfig())
	if err != nil {
		c.t.Fatal(err)
	}
	cfg.QPS = -1
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	return cs
}

// run runs the bundled kubectl with stdin and returns stdout, stderr and
// its exit error.
func (c *cluster) run(stdin string, args ...string) (string, string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), kubectlChildEnv+"=1", "KUBECONFIG="+c.srv.Kubeconfig(), "HOME="+c.home)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// kubectl runs kubectl and fails the test if it fails.
func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// apply applies a manifest given on stdin.
func (c *cluster) apply(manifest string) string {
	c.t.Helper()
	out, errOut, err := c.run(manifest, "apply", "-f", "-")
	if err != nil {
		c.t.Fatalf("kubectl apply: %v\n%s%s", err, out, errOut)
	}
	return out
}

// eventually runs kubectl until its output matches every pattern, and
// fails the test with the last output after the timeout.
func (c *cluster) eventually(timeout time.Duration, args []string, patterns ...string) string {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		out, errOut, err := c.run("", args...)
		last = out + errOut
		if err == nil && matchAll(out, patterns) {
			return out
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("kubectl %s: after %s still\n%s\nwant %q", strings.Join(args, " "), timeout, last, patterns)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
	}
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

// mustNotMatch fails the test if s matches pattern.
func mustNotMatch(t *testing.T, s, pattern string) {
	t.Helper()
	if regexp.MustCompile(pattern).MatchString(s) {
		t.Fatalf("output matches %q:\n%s", pattern, s)
	}
}

// kubectlFails runs kubectl, expects it to fail, and returns its stderr.
func (c *cluster) kubectlFails(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.run("", args...)
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		c.t.Fatalf("kubectl %s succeeded: %s", strings.Join(args, " "), out)
	}
	return errOut
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

// addSimNode runs one more simulated node, named <prefix>0, against the
// cluster until the test ends, as a machine joining later would.
func (c *cluster) addSimNode(t *testing.T, prefix string) {
	t.Helper()
	nodes, err := simnodes.New(simnodes.Config{Client: c.client(), Count: 1, NamePrefix: prefix, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nodes.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sim node: %v", err)
		}
	})
	c.kubectl("wait", "--for=condition=Ready", "node/"+prefix+"0", "--timeout=30s")
}
