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

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// server is the mini server under test, in its own process group.
type server struct {
	cmd     *exec.Cmd
	dir     string
	host    string
	config  *rest.Config
	readyIn time.Duration
}

func startServer(ctx context.Context, bin, workdir string) (*server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: %w (run `make build` first)", bin, err)
	}
	dir, err := os.MkdirTemp(workdir, "apibench-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig.yaml")
	cmd := exec.Command(bin, "server", "--disable-agent", "--data-dir", filepath.Join(dir, "data"),
		"--bind-address", "127.0.0.1", "--https-listen-port", strconv.Itoa(port), "--write-kubeconfig", kubeconfig,
		"--disable-scheduler", "--disable-controller-manager") // the API alone
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	started := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(kubeconfig); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, errors.New("server did not write its kubeconfig within 30s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.readyIn = time.Since(started)
	if s.config, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		s.stop()
		return nil, err
	}
	s.config.QPS, s.config.Burst = -1, 0 // no client-side rate limit: measure the server
	s.host = s.config.Host
	return s, nil
}

// stop kills the server's process group and removes its data.
func (s *server) stop() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
	os.RemoveAll(s.dir)
}

// memory is a process's resident memory: all of it (VmRSS, which counts
// the pages of the binary itself) and its private part (RssAnon).
type memory struct{ rss, anon int64 }

func (s *server) rss() memory {
	var m memory
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		for field, into := range map[string]*int64{"VmRSS:": &m.rss, "RssAnon:": &m.anon} {
			if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				*into = kb << 10
			}
		}
	}
	return m
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
