package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"mini.dev/mini/internal/daemon"
	"mini.dev/mini/internal/kubeconfig"
)

// TestMain lets the test binary stand in for the mini binary: `mini
// start` re-executes itself as `mini server`, and the lifecycle test runs
// each command as a user would, in a process of its own.
func TestMain(m *testing.M) {
	if os.Getenv("MINI_CLI_TEST_MAIN") == "1" {
		Main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// miniUser runs mini commands as a user would: in a process of their
// own, with a clean HOME and no KUBECONFIG.
type miniUser struct {
	t    *testing.T
	home string
}

func (u miniUser) run(args ...string) (string, error) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = []string{"MINI_CLI_TEST_MAIN=1", "HOME=" + u.home, "PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	u.t.Logf("$ mini %s\n%s", strings.Join(args, " "), out.String())
	return out.String(), err
}

func (u miniUser) must(args ...string) string {
	u.t.Helper()
	out, err := u.run(args...)
	if err != nil {
		u.t.Fatalf("mini %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// killServer kills what a test's server left running, by its pid file.
func killServer(dataDir string) {
	if srv, err := daemon.Find(dataDir); err == nil {
		_ = syscall.Kill(-srv.PID, syscall.SIGKILL)
		_ = syscall.Kill(srv.PID, syscall.SIGKILL)
	}
}

// TestLifecycle is the laptop workflow: start, start again, kubectl
// through the merged context, a deployment, stop, start with the objects
// and running pods back, status, logs, delete. The server runs without a
// node (--disable-agent) and with a simulated one: a real node takes the
// host's bridge mini0, which other tests and a developer's own cluster
// may be using; pods on the simulated node run no processes but keep
// their state across a restart all the same.
func TestLifecycle(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("runs mini start as root; not with -short")
	}
	tmp := t.TempDir()
	u := miniUser{t: t, home: filepath.Join(tmp, "home")}
	data := filepath.Join(tmp, "data")
	t.Cleanup(func() { killServer(data) })

	// The user already has a cluster of their own in ~/.kube/config.
	userConfig := filepath.Join(u.home, ".kube", "config")
	own := clientcmdapi.NewConfig()
	own.Clusters["work"] = &clientcmdapi.Cluster{Server: "https://work.example:6443"}
	own.AuthInfos["work"] = &clientcmdapi.AuthInfo{Token: "t"}
	own.Contexts["work"] = &clientcmdapi.Context{Cluster: "work", AuthInfo: "work"}
	own.CurrentContext = "work"
	if err := os.MkdirAll(filepath.Dir(userConfig), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := clientcmd.WriteToFile(*own, userConfig); err != nil {
		t.Fatal(err)
	}

	port := strconv.Itoa(freePort(t))
	flags := []string{"--data-dir", data, "--https-listen-port", port, "--bind-address", "127.0.0.1", "--disable-agent", "--sim-nodes", "1"}
	out := u.must(append([]string{"start"}, flags...)...)
	for _, want := range []string{"✓ store", "✓ API", "https://127.0.0.1:" + port, "mini is ready in", "mini kubectl get nodes", `context "mini"`} {
		if !strings.Contains(out, want) {
			t.Errorf("start output lacks %q", want)
		}
	}
	cfg, err := clientcmd.LoadFromFile(userConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentContext != "mini" || cfg.Contexts["work"] == nil || cfg.Contexts["mini"] == nil {
		t.Fatalf("merged kubeconfig: current %q, contexts %v", cfg.CurrentContext, keys(cfg.Contexts))
	}
	if _, err := os.Stat(userConfig + kubeconfig.BackupSuffix); err != nil {
		t.Errorf("no backup of the user's kubeconfig: %v", err)
	}

	// Again: it says so. With other flags: refused, clearly.
	if out := u.must(append([]string{"start"}, flags...)...); !strings.Contains(out, "already running") {
		t.Errorf("second start: %q", out)
	}
	other := slices.Clone(flags)
	other[len(other)-1] = "2"
	if out, err := u.run(append([]string{"start"}, other...)...); err == nil || !strings.Contains(out, "different flags (--sim-nodes: running 1, asked 2)") {
		t.Errorf("start with other flags: %v %q", err, out)
	}
	// Another data dir on the same port: the port is named.
	if out, err := u.run("start", "--data-dir", filepath.Join(tmp, "data2"), "--https-listen-port", port, "--bind-address", "127.0.0.1", "--disable-agent"); err == nil ||
		!strings.Contains(out, "mini: port "+port+" is in use by another process; stop it or pass --https-listen-port") {
		t.Errorf("start on a taken port: %v %q", err, out)
	}

	kubectl := func(args ...string) string {
		t.Helper()
		return u.must(append([]string{"kubectl", "--kubeconfig", userConfig}, args...)...)
	}
	if out := kubectl("get", "nodes"); !strings.Contains(out, "sim-0") || !strings.Contains(out, "Ready") {
		t.Fatalf("get nodes: %q", out)
	}
	kubectl("create", "deployment", "web", "--image=busybox", "--replicas=2")
	runningPods := func() string {
		return kubectl("get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.phase}{"\n"}{end}`)
	}
	var before string
	waitFor(t, func() bool {
		before = runningPods()
		return strings.Count(before, " Running\n") == 2
	})

	out = u.must("stop", "--data-dir", data)
	if !strings.Contains(out, "mini stopped") {
		t.Errorf("stop: %q", out)
	}
	if out := u.must("status", "--data-dir", data); !strings.Contains(out, "mini is not running") {
		t.Errorf("status after stop: %q", out)
	}
	if out := u.must("stop", "--data-dir", data); !strings.Contains(out, "mini is not running") {
		t.Errorf("second stop: %q", out)
	}

	// A bare start starts it as it was.
	out = u.must("start", "--data-dir", data)
	if !strings.Contains(out, "flags of the last start") || !strings.Contains(out, "mini is ready") {
		t.Errorf("start again: %q", out)
	}
	if after := runningPods(); after != before {
		t.Errorf("pods after a restart:\n%s\nbefore:\n%s", after, before)
	}

	var status statusReport
	if err := json.Unmarshal([]byte(u.must("status", "--data-dir", data, "-o", "json")), &status); err != nil {
		t.Fatal(err)
	}
	if !status.Running || status.PID == 0 || status.DataDir != data || status.API == nil || !status.API.Ready ||
		status.API.URL != "https://127.0.0.1:"+port || len(status.Nodes) != 1 || status.Nodes[0].Name != "sim-0" || !status.Nodes[0].Ready ||
		status.Version.Kubernetes == "" || len(status.Components) == 0 {
		t.Errorf("status: %+v", status)
	}
	if out := u.must("logs", "--data-dir", data, "--tail", "3"); strings.Count(out, "\n") != 3 {
		t.Errorf("logs --tail 3: %q", out)
	}

	out = u.must("delete", "--data-dir", data, "--yes")
	if _, err := os.Stat(data); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("data dir after delete: %v (%q)", err, out)
	}
	cfg, err = clientcmd.LoadFromFile(userConfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Contexts["mini"] != nil || cfg.Contexts["work"] == nil || cfg.CurrentContext != "" {
		t.Errorf("kubeconfig after delete: current %q, contexts %v", cfg.CurrentContext, keys(cfg.Contexts))
	}
}

// TestStartReportsAServerThatExits: a server that fails after it was
// launched (here: a bad --cluster-cidr) makes start fail with the end of
// its log.
func TestStartReportsAServerThatExits(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("runs mini start as root; not with -short")
	}
	tmp := t.TempDir()
	u := miniUser{t: t, home: tmp}
	data := filepath.Join(tmp, "data")
	t.Cleanup(func() { killServer(data) })
	out, err := u.run("start", "--data-dir", data, "--https-listen-port", "0", "--bind-address", "127.0.0.1", "--disable-agent", "--cluster-cidr", "bogus")
	if err == nil || !strings.Contains(out, "exited while starting") || !strings.Contains(out, "--cluster-cidr") ||
		!strings.Contains(out, "mini: the server did not start") {
		t.Fatalf("start of a failing server: %v\n%s", err, out)
	}
	if _, err := daemon.Find(data); !errors.Is(err, daemon.ErrNotRunning) {
		t.Errorf("after a failed start: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}
