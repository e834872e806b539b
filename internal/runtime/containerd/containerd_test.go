package containerd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/testimages"
)

// env is one private containerd started through the backend, shared by
// the subtests.
type env struct {
	dir string
	rt  *Runtime
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s", bin)
		}
	}
}

// startEnv starts a supervised containerd under a short temp dir and
// imports busybox. Everything it made goes in t.Cleanup.
func startEnv(t *testing.T) *env {
	needRoot(t)
	dir, err := os.MkdirTemp("/tmp", "mt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupDir(t, dir) })
	rt, err := New(Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	runRuntime(t, rt)
	e := &env{dir: dir, rt: rt}
	importBusybox(t, rt)
	return e
}

// importBusybox imports the busybox test image into rt's namespace.
func importBusybox(t *testing.T, rt *Runtime) {
	tar, err := testimages.Busybox(filepath.Join(os.TempDir(), "mini-testimages"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(tar)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	imgs, err := rt.ImportImage(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || !slices.Contains(imgs[0].RepoTags, testimages.BusyboxTag) {
		t.Fatalf("imported %+v", imgs)
	}
}

// runRuntime runs rt until the test ends, removing every sandbox it made
// first.
func runRuntime(t *testing.T, rt *Runtime) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()
	t.Cleanup(func() {
		removeAll(t, rt)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		_ = rt.Close()
	})
	select {
	case <-rt.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("containerd not ready after 20s")
	}
}

func removeAll(t *testing.T, rt *Runtime) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sbs, err := rt.ListPodSandboxes(ctx, nil)
	if err != nil {
		t.Logf("cleanup: %v", err)
		return
	}
	for _, sb := range sbs {
		if err := rt.RemovePodSandbox(ctx, sb.ID); err != nil {
			t.Errorf("cleanup: removing sandbox: %v", err)
		}
	}
}

// cleanupDir kills shims left behind (by PID, found by the socket on their
// command line), unmounts what is mounted under dir and removes it.
func cleanupDir(t *testing.T, dir string) {
	sock := SocketPath(dir)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), "containerd-shim") && strings.Contains(string(cmdline), sock) {
			var pid int
			if _, err := fmt.Sscan(p.Name(), &pid); err == nil {
				t.Logf("cleanup: killing shim %d", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		var mounts []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
				mounts = append(mounts, fields[4])
			}
		}
		f.Close()
		slices.Reverse(mounts)
		for _, m := range mounts {
			_ = syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	_ = os.RemoveAll(filepath.Dir(sock))
	// The pods' parent cgroup, if no one else's pod is in it.
	ctrls, _ := os.ReadDir("/sys/fs/cgroup")
	for _, c := range append(ctrls, nil) {
		p := filepath.Join("/sys/fs/cgroup", podCgroupRoot)
		if c != nil {
			p = filepath.Join("/sys/fs/cgroup", c.Name(), podCgroupRoot)
		}
		_ = os.Remove(p)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) sandbox(t *testing.T, name string) (string, *runtime.PodSandboxConfig) {
	t.Helper()
	cfg := &runtime.PodSandboxConfig{
		Name: name, Namespace: "default", UID: "uid-" + name, Hostname: name, HostNetwork: true,
		Labels:       map[string]string{runtime.LabelPodName: name, runtime.LabelPodNamespace: "default", runtime.LabelPodUID: "uid-" + name},
		Annotations:  map[string]string{"note": "kept"},
		LogDirectory: filepath.Join(e.dir, "pods", "default_"+name),
	}
	id, err := e.rt.RunPodSandbox(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return id, cfg
}

func (e *env) container(t *testing.T, sbID string, sb *runtime.PodSandboxConfig, name string, cfg runtime.ContainerConfig) string {
	t.Helper()
	cfg.Name = name
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	cfg.LogPath = name + "/0.log"
	cfg.Labels = map[string]string{runtime.LabelPodUID: sb.UID, runtime.LabelContainerName: name}
	id, err := e.rt.CreateContainer(context.Background(), sbID, &cfg, sb)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) waitExited(t *testing.T, id string) *runtime.ContainerStatus {
	t.Helper()
	var st *runtime.ContainerStatus
	eventually(t, "container exit", 20*time.Second, func() bool {
		var err error
		st, err = e.rt.ContainerStatus(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return st.State == runtime.ContainerExited && st.Reason != "" && !st.FinishedAt.IsZero()
	})
	return st
}

func readLog(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		// "<time> <stream> <tag> <content>": drop the time.
		if _, rest, ok := strings.Cut(line, " "); ok {
			out = append(out, rest)
		}
	}
	return out
}

func TestContainerd(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()

	t.Run("version", func(t *testing.T) {
		v, err := e.rt.Version(ctx)
		if err != nil || v.RuntimeName != "containerd" || v.RuntimeVersion == "" {
			t.Fatalf("Version = %+v, %v", v, err)
		}
	})

	t.Run("images", func(t *testing.T) {
		for _, name := range []string{"busybox", "busybox:latest", "docker.io/library/busybox"} {
			img, err := e.rt.ImageStatus(ctx, name)
			if err != nil || img == nil || !strings.HasPrefix(img.ID, "sha256:") ||
				len(img.RepoDigests) == 0 || !strings.HasPrefix(img.RepoDigests[0], "docker.io/library/busybox@sha256:") {
				t.Fatalf("ImageStatus(%q) = %+v, %v", name, img, err)
			}
		}
		if img, err := e.rt.ImageStatus(ctx, "absent:1"); img != nil || err != nil {
			t.Fatalf("absent image: %+v, %v", img, err)
		}
		imgs, err := e.rt.ListImages(ctx)
		if err != nil || len(imgs) != 1 {
			t.Fatalf("ListImages = %+v, %v", imgs, err)
		}
	})

	t.Run("exits", func(t *testing.T) {
		sbID, sb := e.sandbox(t, "exits")
		tests := []struct {
			name       string
			cfg        runtime.ContainerConfig
			wantCode   int32
			wantReason string
			wantLog    []string
		}{
			{name: "error", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}},
				wantCode: 3, wantReason: "Error", wantLog: []string{"stdout F out", "stderr F err"}},
			{name: "completed", cfg: runtime.ContainerConfig{Args: []string{"-c", "echo $GREETING from $(pwd) as $(id -u)"},
				Command: []string{"sh"}, WorkingDir: "/bin", Env: []runtime.KeyValue{{Key: "GREETING", Value: "hi"}}},
				wantCode: 0, wantReason: "Completed", wantLog: []string{"stdout F hi from /bin as 0"}},
			{name: "user", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", "id -u; id -g; hostname"},
				Security: &runtime.SecurityConfig{RunAsUser: ptr[int64](1234), RunAsGroup: ptr[int64](567)}},
				wantCode: 0, wantReason: "Completed", wantLog: []string{"stdout F 1234", "stdout F 567", "stdout F exits"}},
			{name: "oom", cfg: runtime.ContainerConfig{Command: []string{"sh", "-c", "a=aaaaaaaa; while true; do a=$a$a; done"},
				Resources: runtime.Resources{MemoryLimitInBytes: 16 << 20}},
				wantCode: 137, wantReason: "OOMKilled"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				id := e.container(t, sbID, sb, tt.name, tt.cfg)
				if err := e.rt.StartContainer(ctx, id); err != nil {
					t.Fatal(err)
				}
				st := e.waitExited(t, id)
				if st.ExitCode != tt.wantCode || st.Reason != tt.wantReason {
					t.Fatalf("exit %d %q, want %d %q", st.ExitCode, st.Reason, tt.wantCode, tt.wantReason)
				}
				if st.LogPath != filepath.Join(sb.LogDirectory, tt.name, "0.log") || st.StartedAt.IsZero() ||
					!strings.HasPrefix(st.ImageRef, "docker.io/library/busybox@sha256:") {
					t.Fatalf("status %+v", st)
				}
				if tt.wantLog != nil {
					// stdout and stderr are copied by separate readers:
					// only each stream's own order is defined.
					got := readLog(t, st.LogPath)
					if !slices.Equal(byStream(got), byStream(tt.wantLog)) {
						t.Fatalf("log %q, want %q", got, tt.wantLog)
					}
				}
			})
		}
	})

	t.Run("start error", func(t *testing.T) {
		sbID, sb := e.sandbox(t, "starterror")
		id := e.container(t, sbID, sb, "bad", runtime.ContainerConfig{Command: []string{"/no/such/binary"}})
		err := e.rt.StartContainer(ctx, id)
		if err == nil {
			t.Fatal("started a missing executable")
		}
		st, err2 := e.rt.ContainerStatus(ctx, id)
		if err2 != nil || st.State != runtime.ContainerExited || st.ExitCode != 128 || st.Reason != "StartError" ||
			!strings.Contains(st.Message, "no such file") {
			t.Fatalf("status %+v, %v (start: %v)", st, err2, err)
		}
	})

	t.Run("exec and stop", func(t *testing.T) {
		sbID, sb := e.sandbox(t, "execstop")
		events := e.rt.ContainerEvents(t.Context())
		id := e.container(t, sbID, sb, "sleeper", runtime.ContainerConfig{Command: []string{"sleep", "1000"}})
		if err := e.rt.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		res, err := e.rt.ExecSync(ctx, id, []string{"sh", "-c", "echo hi; echo oops >&2; exit 2"}, 5*time.Second)
		if err != nil || string(res.Stdout) != "hi\n" || string(res.Stderr) != "oops\n" || res.ExitCode != 2 {
			t.Fatalf("ExecSync = %+v, %v", res, err)
		}
		start := time.Now()
		if _, err := e.rt.ExecSync(ctx, id, []string{"sleep", "30"}, 200*time.Millisecond); !errors.Is(err, runtime.ErrTimeout) {
			t.Fatalf("ExecSync past its timeout: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("timed-out exec took %s", d)
		}
		// sleep as PID 1 ignores SIGTERM: the grace period ends in SIGKILL.
		start = time.Now()
		if err := e.rt.StopContainer(ctx, id, 300*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		st, err := e.rt.ContainerStatus(ctx, id)
		if err != nil || st.State != runtime.ContainerExited || st.ExitCode != 137 || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("after stop: %+v, %v", st, err)
		}
		// A process that handles SIGTERM exits within the grace period.
		id2 := e.container(t, sbID, sb, "graceful", runtime.ContainerConfig{
			Command: []string{"sh", "-c", "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.05; done"}})
		if err := e.rt.StartContainer(ctx, id2); err != nil {
			t.Fatal(err)
		}
		st2, _ := e.rt.ContainerStatus(ctx, id2)
		eventually(t, "ready line", 10*time.Second, func() bool { return slices.Contains(readLog(t, st2.LogPath), "stdout F ready") })
		if err := e.rt.StopContainer(ctx, id2, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		st2, err = e.rt.ContainerStatus(ctx, id2)
		if err != nil || st2.ExitCode != 0 || st2.Reason != "Completed" || !slices.Contains(readLog(t, st2.LogPath), "stdout F bye") {
			t.Fatalf("graceful stop: %+v, %v", st2, err)
		}
		// Events: created, running and exited for the first container.
		var seen []runtime.ContainerState
		eventually(t, "events", 5*time.Second, func() bool {
			for {
				select {
				case ev := <-events:
					if ev.ContainerID == id {
						seen = append(seen, ev.State)
						if ev.Labels[runtime.LabelContainerName] != "sleeper" || ev.SandboxID != sbID {
							t.Fatalf("event %+v", ev)
						}
					}
				default:
					return slices.Contains(seen, runtime.ContainerExited)
				}
			}
		})
		if !slices.Equal(seen[:2], []runtime.ContainerState{runtime.ContainerCreated, runtime.ContainerRunning}) {
			t.Fatalf("events %v", seen)
		}
		if err := e.rt.StopPodSandbox(ctx, sbID); err != nil {
			t.Fatal(err)
		}
		if sbs, err := e.rt.ListPodSandboxes(ctx, &runtime.SandboxFilter{ID: sbID}); err != nil || len(sbs) != 1 ||
			sbs[0].State != runtime.SandboxNotReady || sbs[0].Annotations["note"] != "kept" || sbs[0].UID != sb.UID {
			t.Fatalf("sandboxes %+v, %v", sbs, err)
		}
		if err := e.rt.RemovePodSandbox(ctx, sbID); err != nil {
			t.Fatal(err)
		}
		if cs, err := e.rt.ListContainers(ctx, &runtime.ContainerFilter{SandboxID: sbID}); err != nil || len(cs) != 0 {
			t.Fatalf("containers left: %+v, %v", cs, err)
		}
	})

	t.Run("latency", func(t *testing.T) {
		sbID, sb := e.sandbox(t, "latency")
		const n = 10
		var total, worst time.Duration
		for i := range n {
			start := time.Now()
			id := e.container(t, sbID, sb, fmt.Sprintf("c%d", i), runtime.ContainerConfig{Command: []string{"sleep", "1000"}})
			if err := e.rt.StartContainer(ctx, id); err != nil {
				t.Fatal(err)
			}
			d := time.Since(start)
			total += d
			worst = max(worst, d)
		}
		t.Logf("create+start of a container: mean %s, worst %s over %d", total/n, worst, n)
	})
}

func ptr[T any](v T) *T { return &v }

func TestPortForwardHostNetwork(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c) // echo
	}()
	sbID, _ := e.sandbox(t, "forward")
	local, remote := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- e.rt.PortForward(ctx, sbID, int32(ln.Addr().(*net.TCPAddr).Port), remote) }()
	if _, err := local.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(local).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echoed %q, %v", line, err)
	}
	local.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// byStream orders log lines by stream, keeping each stream's own order.
func byStream(lines []string) []string {
	out := slices.Clone(lines)
	slices.SortStableFunc(out, func(a, b string) int {
		return strings.Compare(strings.SplitN(a, " ", 2)[0], strings.SplitN(b, " ", 2)[0])
	})
	return out
}
