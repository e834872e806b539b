package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdServer is a throwaway single-member etcd that this program started and
// must kill: nothing of it may outlive the benchmark.
type etcdServer struct {
	cmd      *exec.Cmd
	endpoint string
	logPath  string
	exited   chan struct{} // closed once the process has been reaped
}

// startEtcd runs bin with its data under dir, on free loopback ports, and
// returns once it answers a read. fsync stays on (etcd's default) so the
// comparison with mini's durable writes is fair.
func startEtcd(ctx context.Context, bin, dir string) (*etcdServer, *clientv3.Client, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	e := &etcdServer{endpoint: client, logPath: filepath.Join(dir, "etcd.log"), exited: make(chan struct{})}
	logf, err := os.Create(e.logPath)
	if err != nil {
		return nil, nil, err
	}
	e.cmd = exec.Command(bin,
		"--name", "bench", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "bench="+peer, "--initial-cluster-state", "new",
		"--logger", "zap", "--log-level", "warn")
	e.cmd.Stdout, e.cmd.Stderr = logf, logf
	// Its own process group, so Ctrl-C at the terminal reaches only us and
	// stop can kill the whole group; Pdeathsig kills it even if we are
	// SIGKILLed or panic before the deferred stop runs.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		e.cmd.Wait()
		logf.Close()
		close(e.exited)
	}()
	cli, err := e.waitReady(ctx)
	if err != nil {
		e.stop()
		return nil, nil, err
	}
	return e, cli, nil
}

// waitReady polls with a read until etcd has a leader and answers, or fails
// fast with the tail of its log if the process exits.
func (e *etcdServer) waitReady(ctx context.Context) (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{e.endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(), // its retry chatter would drown the report
	})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(actx, "/registry/bench/ready")
		cancel()
		switch {
		case err == nil:
			return cli, nil
		case ctx.Err() != nil:
			cli.Close()
			return nil, ctx.Err()
		case time.Now().After(deadline):
			cli.Close()
			return nil, fmt.Errorf("etcd did not answer within 30s: %v\n%s", err, e.logTail())
		}
		select {
		case <-e.exited:
			cli.Close()
			return nil, fmt.Errorf("etcd exited at start: %v\n%s", e.cmd.ProcessState, e.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// guard returns a ctx that ends, with the reason and etcd's log, if etcd
// dies: the client would otherwise retry against a dead server forever.
func (e *etcdServer) guard(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-e.exited:
			cancel(fmt.Errorf("etcd exited during the run: %v\n%s", e.cmd.ProcessState, e.logTail()))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}

// stop kills etcd's process group (by its PID, which is the group's id) and
// waits until it is reaped, so its data dir can be removed.
func (e *etcdServer) stop() {
	if err := syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(os.Stderr, "storebench: kill etcd group %d: %v\n", e.cmd.Process.Pid, err)
	}
	select {
	case <-e.exited:
	case <-time.After(10 * time.Second):
		fmt.Fprintf(os.Stderr, "storebench: etcd (pid %d) not reaped after SIGKILL\n", e.cmd.Process.Pid)
	}
}

// peakRSS is etcd's peak resident memory in bytes, from /proc; 0 if unknown.
func (e *etcdServer) peakRSS() int64 { return procPeakRSS(e.cmd.Process.Pid) }

func (e *etcdServer) logTail() string {
	b, _ := os.ReadFile(e.logPath)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// freePorts asks the kernel for n distinct free loopback ports by listening
// on :0; the listeners are closed just before etcd binds them.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
