package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"
)

// maxSocketPath keeps the socket (and the ".ttrpc" one beside it) within
// the 108 bytes a unix socket address holds.
const maxSocketPath = 100

// SocketPath is the gRPC socket of the containerd mini runs for dataDir:
// <dataDir>/containerd/containerd.sock, or a short path under /run/mini
// when that one would not fit in a socket address.
func SocketPath(dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	p := filepath.Join(dataDir, "containerd", "containerd.sock")
	if len(p) <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join("/run/mini", hex.EncodeToString(sum[:6]), "containerd.sock")
}

// disabledPlugins are containerd plugins mini does not use: the CRI
// plugin (mini is the kubelet and talks to containerd directly), the
// snapshotters other than overlayfs and native, and tracing. (The legacy
// v1 runtime stays: containerd 1.6's tasks service will not load without it.) Fewer plugins start faster and use less memory.
var disabledPlugins = []string{
	"io.containerd.grpc.v1.cri",
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
	"io.containerd.internal.v1.opt",
	"io.containerd.nri.v1.nri",
}

// daemon is a private containerd, restarted with back-off when it exits.
type daemon struct {
	dir    string // <dataDir>/containerd
	socket string
	log    *slog.Logger
}

func newDaemon(dataDir string, log *slog.Logger) (*daemon, error) {
	// Said at once, not retried for ever: the host lacks the package.
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return nil, fmt.Errorf("containerd: %s is not installed (on Debian: apt-get install containerd runc, or run scripts/install-deps.sh): %w", bin, err)
		}
	}
	d := &daemon{dir: filepath.Join(dataDir, "containerd"), socket: SocketPath(dataDir), log: log}
	for _, dir := range []string{d.dir, filepath.Dir(d.socket)} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("containerd: %w", err)
		}
	}
	if err := os.WriteFile(d.configPath(), []byte(d.config()), 0o644); err != nil {
		return nil, fmt.Errorf("containerd: writing config: %w", err)
	}
	return d, nil
}

func (d *daemon) configPath() string { return filepath.Join(d.dir, "config.toml") }

func (d *daemon) config() string {
	quoted := make([]string, len(disabledPlugins))
	for i, p := range disabledPlugins {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf(`# Written by mini; rewritten at every start.
version = 2
root = %q
state = %q
disabled_plugins = [%s]

[grpc]
  address = %q

[ttrpc]
  address = %q
`, filepath.Join(d.dir, "root"), filepath.Join(d.dir, "state"), strings.Join(quoted, ", "),
		d.socket, d.socket+".ttrpc")
}

// Back-off between restarts of a containerd that exited: doubling from
// minRestartDelay to maxRestartDelay, reset after it ran stableRun.
const (
	minRestartDelay = 100 * time.Millisecond
	maxRestartDelay = 10 * time.Second
	stableRun       = 30 * time.Second
	stopGrace       = 5 * time.Second
)

// run runs containerd until ctx ends. It runs on one locked OS thread for
// its whole life: Pdeathsig fires when the thread that started the child
// ends, so the thread must live as long as mini does.
func (d *daemon) run(ctx context.Context) error {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	delay := minRestartDelay
	for {
		started := time.Now()
		err := d.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(started) > stableRun {
			delay = minRestartDelay
		}
		d.log.Error("containerd exited; restarting", "err", err, "after", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(delay*2, maxRestartDelay)
	}
}

func (d *daemon) runOnce(ctx context.Context) error {
	logFile, err := os.OpenFile(filepath.Join(d.dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("containerd: log: %w", err)
	}
	defer logFile.Close()
	// A socket left by a containerd that was killed keeps the new one
	// from listening.
	_ = os.Remove(d.socket)
	_ = os.Remove(d.socket + ".ttrpc")
	cmd := exec.Command("containerd", "--config", d.configPath())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	d.log.Info("started containerd", "pid", cmd.Process.Pid, "socket", d.socket)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// Shims and their containers outlive containerd by design; only
	// containerd itself stops here.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopGrace):
		_ = cmd.Process.Kill()
		<-done
	}
	return nil
}
