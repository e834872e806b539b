package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// Hosts are network namespaces on one bridge, made by scripts/mini-hosts:
// host i is namespace <Prefix>-h<i> at <Net>.(10+i), the outside client
// is <Prefix>-cl at <Net>.200, and the bridge answers at <Net>.1.
type Hosts struct {
	Prefix string
	// Net is the first three octets of the hosts' /24.
	Net    string
	N      int
	script string
}

// StateDir is where mini-hosts keeps what it built.
const StateDir = "/run/mini-hosts"

// exitNetInUse is mini-hosts' exit code for a subnet in use.
const exitNetInUse = 3

// UpHosts builds n hosts named after prefix on the first free
// 10.99.K.0/24, trying K = 20+first first; mini-hosts' output goes to log.
func UpHosts(prefix string, n, first int, log io.Writer) (*Hosts, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	h := &Hosts{script: filepath.Join(root, "scripts", "mini-hosts"), Prefix: prefix, N: n}
	for k := 0; k < 40; k++ {
		h.Net = fmt.Sprintf("10.99.%d", 20+(first+k*7)%230)
		cmd := exec.Command(h.script, "up", prefix, strconv.Itoa(n), h.Net)
		var errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = log, io.MultiWriter(log, &errOut)
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == exitNetInUse {
			continue
		}
		if err != nil {
			h.Down(log)
			return nil, fmt.Errorf("mini-hosts up %s: %w: %s", prefix, err, errOut.String())
		}
		return h, nil
	}
	return nil, fmt.Errorf("mini-hosts up %s: no free 10.99.K.0/24", prefix)
}

// Down removes the hosts and everything running in them.
func (h *Hosts) Down(log io.Writer) error {
	cmd := exec.Command(h.script, "down", h.Prefix)
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = log, io.MultiWriter(log, &errOut)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mini-hosts down %s: %w: %s", h.Prefix, err, errOut.String())
	}
	return nil
}

// NS is host i's network namespace.
func (h *Hosts) NS(i int) string { return fmt.Sprintf("%s-h%d", h.Prefix, i) }

// Addr is host i's address.
func (h *Hosts) Addr(i int) string { return fmt.Sprintf("%s.%d", h.Net, 10+i) }

// ClientNS is the outside client's namespace.
func (h *Hosts) ClientNS() string { return h.Prefix + "-cl" }

// ClientAddr is the outside client's address.
func (h *Hosts) ClientAddr() string { return h.Net + ".200" }

// PoolAddr is the i-th of ten addresses (Net.100-109) on the hosts'
// subnet that no host has, for --lb-pool.
func (h *Hosts) PoolAddr(i int) string { return fmt.Sprintf("%s.%d", h.Net, 100+i) }

// Exec is argv run in host i as mini-hosts runs it: in the host's network
// namespace, with its /sys and /etc/netns files, the machine's cgroups
// kept (runc needs them), and the same PID throughout.
func (h *Hosts) Exec(i int, argv ...string) []string {
	return append([]string{h.script, "exec", h.Prefix, strconv.Itoa(i)}, argv...)
}

// InNS is argv run in network namespace ns (by `ip netns exec`, which
// also gives it the namespace's /etc/netns files and /sys).
func InNS(ns string, argv ...string) []string {
	return append([]string{"ip", "netns", "exec", ns}, argv...)
}

// RemoveStaleHosts takes down hosts of earlier runs that died without
// cleaning up: those whose prefix matches pattern, whose first submatch
// is the PID of the run, and whose run is gone (no process of that PID
// whose command line holds alive).
func RemoveStaleHosts(pattern *regexp.Regexp, alive string, log io.Writer) {
	entries, err := os.ReadDir(StateDir)
	if err != nil {
		return
	}
	root, err := RepoRoot()
	if err != nil {
		return
	}
	for _, e := range entries {
		m := pattern.FindStringSubmatch(e.Name())
		if len(m) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() {
			continue
		}
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(cmdline), alive) {
			continue
		}
		fmt.Fprintf(log, "harness: removing the stale hosts %s\n", e.Name())
		h := &Hosts{Prefix: e.Name(), script: filepath.Join(root, "scripts", "mini-hosts")}
		h.Down(log)
	}
}

// RepoRoot is the directory holding go.mod above this package's source,
// else above the working directory.
func RepoRoot() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "scripts", "mini-hosts")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no scripts/mini-hosts above %v", starts)
}
