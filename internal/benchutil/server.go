// Package benchutil holds what mini's benchmarks share: a `mini server`
// child process on a temporary directory, its client, the memory of
// processes, percentiles, the printed table, and (with the end-to-end
// tests) cleaning up what a node left on the machine.
package benchutil

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ServerOptions say how to run `mini server`.
type ServerOptions struct {
	// Bin is the mini binary.
	Bin string
	// Dir holds the server's data dir (Dir/data), its kubeconfig and its
	// log (appended to, so that a restarted server's log follows on). It
	// outlives the server, so that a server can be restarted on it.
	Dir string
	// Agent runs the real node for this machine; without it the server
	// gets --disable-agent (the control plane alone).
	Agent bool
	// Flags follow the common ones.
	Flags []string
}

// Server is a `mini server` under test, in its own process group.
type Server struct {
	Dir, DataDir string
	Config       *rest.Config
	Client       kubernetes.Interface
	// Started is when the process was started; ReadyIn is how long it
	// took from then to writing its kubeconfig.
	Started time.Time
	ReadyIn time.Duration

	cmd *exec.Cmd
	// exited is closed once the process has been waited for.
	exited  chan struct{}
	waitErr error
}

// kubeconfigTimeout bounds a server's start-up.
const kubeconfigTimeout = 30 * time.Second

// StartServer runs `mini server` on o.Dir, listening on a free loopback
// port, and waits until it has written its kubeconfig.
func StartServer(ctx context.Context, o ServerOptions) (*Server, error) {
	if _, err := os.Stat(o.Bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run `make build` first)", o.Bin, err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(o.Dir, "kubeconfig.yaml")
	os.Remove(kubeconfig) // a restarted server writes it again: wait for the new one
	s := &Server{Dir: o.Dir, DataDir: filepath.Join(o.Dir, "data"), exited: make(chan struct{})}
	args := []string{"server"}
	if !o.Agent {
		args = append(args, "--disable-agent")
	}
	args = append(args, "--data-dir", s.DataDir, "--bind-address", "127.0.0.1",
		"--https-listen-port", strconv.Itoa(port), "--write-kubeconfig", kubeconfig)
	s.cmd = exec.Command(o.Bin, append(args, o.Flags...)...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.OpenFile(s.LogPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.Started = time.Now()
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitForFile(ctx, kubeconfig); err != nil {
		s.Kill()
		return nil, err
	}
	s.ReadyIn = time.Since(s.Started)
	if s.Config, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		s.Kill()
		return nil, err
	}
	s.Config.QPS, s.Config.Burst = -1, 0 // no client-side rate limit: measure the server
	if s.Client, err = kubernetes.NewForConfig(s.Config); err != nil {
		s.Kill()
		return nil, err
	}
	return s, nil
}

// waitForFile polls for the kubeconfig the server writes once it serves;
// a server that exits first fails at once, with its log's path.
func (s *Server) waitForFile(ctx context.Context, path string) error {
	deadline := time.Now().Add(kubeconfigTimeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("server exited (%v) before writing its kubeconfig; see %s", s.waitErr, s.LogPath())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server did not write its kubeconfig within %s; see %s", kubeconfigTimeout, s.LogPath())
		}
		time.Sleep(2 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// LogPath is the server's log.
func (s *Server) LogPath() string { return filepath.Join(s.Dir, "server.log") }

// Kubeconfig is the admin kubeconfig the server wrote.
func (s *Server) Kubeconfig() string { return filepath.Join(s.Dir, "kubeconfig.yaml") }

// PID is the server process's id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop ends the server gracefully (SIGTERM), as `mini stop` does, and
// kills its process group if it has not exited within timeout.
func (s *Server) Stop(timeout time.Duration) error {
	syscall.Kill(s.PID(), syscall.SIGTERM)
	select {
	case <-s.exited:
		// The group may hold children the server left (none should).
		syscall.Kill(-s.PID(), syscall.SIGKILL)
		return s.waitErr
	case <-time.After(timeout):
		s.Kill()
		return fmt.Errorf("server did not stop within %s of SIGTERM", timeout)
	}
}

// Kill kills the server's process group and waits for the server.
func (s *Server) Kill() {
	syscall.Kill(-s.PID(), syscall.SIGKILL)
	<-s.exited
}

// Memory is the server's resident memory now (zero once it has exited).
func (s *Server) Memory() Memory {
	m, _ := ReadMemory(s.PID())
	return m
}

// FreePort is a TCP port free on loopback now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
