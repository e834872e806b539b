package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	ossignal "os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMentions(t *testing.T) {
	paths := []string{"/var/lib/mini", "/run/mini/abc/containerd.sock"}
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"mini", "server", "--data-dir", "/var/lib/mini"}, true},
		{[]string{"mini", "server", "--data-dir=/var/lib/mini"}, true},
		{[]string{"containerd", "--config", "/var/lib/mini/agent/containerd/config.toml"}, true},
		{[]string{"containerd-shim-runc-v2", "-address", "/run/mini/abc/containerd.sock"}, true},
		{[]string{"mini", "server", "--data-dir", "/var/lib/mini2"}, false},
		{[]string{"cat", "/var/lib/minikube/x"}, false},
		{[]string{"sh", "-c", "x=/var/lib/mini/y"}, false},
	} {
		if got := mentions(tc.args, paths); got != tc.want {
			t.Errorf("mentions(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestIsShimOf(t *testing.T) {
	sock := "/d/containerd/containerd.sock"
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "mini", "-id", "x", "-address", sock}, true},
		{[]string{"/usr/bin/containerd-shim-runc-v2", "-namespace", "mini", "-id", "x", "-address", "/other.sock"}, false},
		{[]string{"sleep", "-address", sock}, false},
		{nil, false},
	} {
		if got := isShimOf(tc.args, sock); got != tc.want {
			t.Errorf("isShimOf(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want int
	}{
		{"", 5, 0}, {"a\nb\nc\n", 2, 2}, {"a\nb\nc", 5, 3}, {"a\nb\nc\n", -1, 3}, {"a\n", 0, 0},
	} {
		if got := LastLines(tc.in, tc.n); len(got) != tc.want {
			t.Errorf("LastLines(%q, %d) = %q, want %d lines", tc.in, tc.n, got, tc.want)
		}
	}
	if got := LastLines("a\nb\nc\n", 2); got[0] != "b" || got[1] != "c" {
		t.Errorf("LastLines kept %q, want the last two", got)
	}
}

func TestFindWithoutAServer(t *testing.T) {
	dir := t.TempDir()
	if _, err := Find(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("no pid file: %v, want ErrNotRunning", err)
	}
	// A live process that is not a mini server: the pid file is stale.
	pidFile := filepath.Join(dir, PIDFileName)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("pid of another program: %v, want ErrNotRunning", err)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale pid file kept: %v", err)
	}
	if err := os.WriteFile(pidFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(dir); err == nil || errors.Is(err, ErrNotRunning) {
		t.Fatalf("garbage pid file: %v, want a parse error", err)
	}
}

// TestMain makes the test binary a stand-in server when asked: argv
// "<binary> server", prints a line, exits 0 on SIGTERM.
func TestMain(m *testing.M) {
	if os.Getenv("MINI_DAEMON_TEST_SERVER") == "1" {
		sigs := make(chan os.Signal, 1)
		ossignal.Notify(sigs, syscall.SIGTERM)
		fmt.Println("serving")
		<-sigs
		fmt.Println("bye")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLaunchFindStop(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MINI_DAEMON_TEST_SERVER", "1")
	p, err := Launch(Config{DataDir: dir, Executable: os.Args[0], Args: []string{"server"}, Flags: []string{"--a=1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-p.PID, syscall.SIGKILL); <-p.Exited() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines, _ := LogTail(dir, p.LogOffset, 10)
		if len(lines) == 2 && lines[1] == "serving" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log: %q", lines)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition
	}
	srv, err := Find(dir)
	if err != nil || srv.PID != p.PID || len(srv.Flags) != 1 || srv.Flags[0] != "--a=1" || time.Since(srv.Started) > time.Minute {
		t.Fatalf("Find: %+v, %v", srv, err)
	}
	if sid := sessionOf(t, p.PID); sid != p.PID {
		t.Errorf("session %d, want its own (%d)", sid, p.PID)
	}
	st, err := Stop(context.Background(), dir, 10*time.Second)
	if err != nil || st.Killed || st.PID != p.PID {
		t.Fatalf("Stop: %+v, %v", st, err)
	}
	<-p.Exited()
	if p.Err() != nil {
		t.Errorf("stand-in exited with %v, want 0 after SIGTERM", p.Err())
	}
	if lines, _ := LogTail(dir, p.LogOffset, 1); len(lines) != 1 || lines[0] != "bye" {
		t.Errorf("log ends %q", lines)
	}
	if _, err := Find(dir); !errors.Is(err, ErrNotRunning) {
		t.Errorf("after Stop: %v", err)
	}
	if _, err := Stop(context.Background(), dir, time.Second); !errors.Is(err, ErrNotRunning) {
		t.Errorf("second Stop: %v", err)
	}
}

// sessionOf is field 6 of /proc/<pid>/stat.
func sessionOf(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	sid, _ := strconv.Atoi(fields[3])
	return sid
}

// TestStopContainers stops a stand-in shim: sh named containerd-shim-…
// with containerd's -address argument, whose child is the "container".
func TestStopContainers(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	shim := filepath.Join(dir, "containerd-shim-runc-v2")
	if err := os.Symlink(sh, shim); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "containerd.sock")
	start := func(socket string) *exec.Cmd {
		cmd := exec.Command(shim, "-c", "sleep 300 & wait", "-address", socket)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd
	}
	ours, other := start(sock), start(filepath.Join(dir, "other.sock"))
	waitFor := func(cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatal("condition not met in 10s")
			}
			time.Sleep(10 * time.Millisecond) // polling a condition
		}
	}
	children := func(pid int) int {
		procs, _ := processes()
		return len(descendants(procs, pid))
	}
	waitFor(func() bool { return children(ours.Process.Pid) == 1 && children(other.Process.Pid) == 1 })
	n, err := StopContainers(context.Background(), sock, 5*time.Second)
	if err != nil || n != 1 {
		t.Fatalf("StopContainers: %d, %v; want 1 container", n, err)
	}
	if Alive(ours.Process.Pid) {
		t.Error("the shim of our containerd still runs")
	}
	if !Alive(other.Process.Pid) || children(other.Process.Pid) != 1 {
		t.Error("another containerd's shim or container was stopped")
	}
}
