package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// server is a mini server under test, in its own process group, on a data
// dir that outlives it (so that it can be restarted).
type server struct {
	cmd    *exec.Cmd
	dir    string
	config *rest.Config
	client kubernetes.Interface
	// started is when the process was started.
	started time.Time
}

// newDataDir makes a temporary directory for one server's data.
func newDataDir(workdir string) (string, error) {
	return os.MkdirTemp(workdir, "clusterbench-")
}

// startServer runs `mini server` on dir with extra flags and waits until
// its kubeconfig is written.
func startServer(ctx context.Context, bin, dir string, flags ...string) (*server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run `make build` first)", bin, err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	os.Remove(kubeconfig)
	args := append([]string{"server", "--disable-agent", "--data-dir", filepath.Join(dir, "data"),
		"--bind-address", "127.0.0.1", "--https-listen-port", strconv.Itoa(port), "--write-kubeconfig", kubeconfig}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	s := &server{cmd: cmd, dir: dir, started: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(kubeconfig); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.kill()
			return nil, errors.New("server did not write its kubeconfig within 30s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if s.config, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		s.kill()
		return nil, err
	}
	s.config.QPS, s.config.Burst = -1, 0
	if s.client, err = kubernetes.NewForConfig(s.config); err != nil {
		s.kill()
		return nil, err
	}
	return s, nil
}

// stop ends the server gracefully (SIGTERM), as `mini stop` will.
func (s *server) stop() error {
	syscall.Kill(s.cmd.Process.Pid, syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		s.kill()
		return errors.New("server did not stop within 30s of SIGTERM")
	}
}

// kill kills the server's process group.
func (s *server) kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
}

// rss is the server's resident memory in bytes.
func (s *server) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
