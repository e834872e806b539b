package containerd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mini.dev/mini/internal/runtime"
)

// TestRestart kills the backend (not containerd) while a container runs
// and starts a new one on the same containerd, as after an agent SIGKILL:
// the container keeps running, its log goes on with nothing lost, and the
// new backend records its exit.
func TestRestart(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	cfg := Config{Address: SocketPath(e.dir), DataDir: e.dir, Namespace: "mini-restart"}
	first, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- first.Run(runCtx) }()
	t.Cleanup(func() { stop() })
	<-first.Ready()
	importBusybox(t, first)

	be := &env{dir: e.dir, rt: first}
	sbID, sb := be.sandbox(t, "restart")
	id := be.container(t, sbID, sb, "counter", runtime.ContainerConfig{
		Command: []string{"sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.02; done"}})
	if err := first.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	before, err := first.ContainerStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first lines", 10*time.Second, func() bool { return len(readLog(t, before.LogPath)) >= 5 })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	seen := len(readLog(t, before.LogPath))

	second, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runRuntime(t, second)
	cs, err := second.ListContainers(ctx, &runtime.ContainerFilter{State: runtime.ContainerRunning})
	if err != nil || len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("running after restart: %+v, %v", cs, err)
	}
	eventually(t, "logging to go on", 10*time.Second, func() bool { return len(readLog(t, before.LogPath)) > seen+20 })
	for i, line := range readLog(t, before.LogPath) {
		if want := fmt.Sprintf("stdout F line %d", i); line != want {
			t.Fatalf("log line %d is %q, want %q: output lost or doubled", i, line, want)
		}
	}

	// Attach sees the output from now on.
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	pr, pw := io.Pipe()
	attached := make(chan error, 1)
	go func() { attached <- second.Attach(actx, id, runtime.Streams{Stdout: pw}) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "line ") {
		t.Fatalf("attached output %q, %v", line, err)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-attached; err != nil {
		t.Fatal(err)
	}
	pw.Close()

	if err := second.StopContainer(ctx, id, 0); err != nil {
		t.Fatal(err)
	}
	after, err := second.ContainerStatus(ctx, id)
	if err != nil || after.State != runtime.ContainerExited || after.ExitCode != 137 || !after.StartedAt.Equal(before.StartedAt) {
		t.Fatalf("after stop: %+v, %v", after, err)
	}
}

// TestDaemonRestart kills the supervised containerd: Run starts it again
// and the backend, events included, works on.
func TestDaemonRestart(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	pid := daemonPID(t, e.dir)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a new containerd", 20*time.Second, func() bool {
		p := daemonPID(t, e.dir)
		if p == 0 || p == pid {
			return false
		}
		_, err := e.rt.Version(ctx)
		return err == nil
	})
	sbID, sb := e.sandbox(t, "daemonrestart")
	id := e.container(t, sbID, sb, "quick", runtime.ContainerConfig{Command: []string{"sh", "-c", "exit 4"}})
	if err := e.rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The exit is recorded from the (re-subscribed) event stream, not by
	// ContainerStatus: ListContainers reads labels and tasks only.
	eventually(t, "exit recorded", 20*time.Second, func() bool {
		rec, err := e.rt.containerRecord(ctx, id)
		return err == nil && rec.Labels[labelExitCode] == "4"
	})
}

// daemonPID finds the containerd running with dir's config (0: none).
func daemonPID(t *testing.T, dir string) int {
	procs, _ := os.ReadDir("/proc")
	want := "containerd\x00--config\x00" + filepath.Join(dir, "containerd", "config.toml")
	for _, p := range procs {
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(cmdline), want) {
			pid, _ := strconv.Atoi(p.Name())
			return pid
		}
	}
	return 0
}
