package tourtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTourInSync fails when the README's tour and the steps table differ:
// it needs no root, so any machine catches a README edit that the test
// does not follow.
func TestTourInSync(t *testing.T) {
	cmds := readmeCommands(t)
	n := max(len(cmds), len(steps))
	for i := range n {
		switch {
		case i >= len(cmds):
			t.Errorf("step %d %q is not in the README's tour", i+1, steps[i].cmd)
		case i >= len(steps):
			t.Errorf("README command %d %q has no step in steps_test.go", i+1, cmds[i])
		case cmds[i] != steps[i].cmd:
			t.Errorf("README command %d is %q, the steps table has %q", i+1, cmds[i], steps[i].cmd)
		}
	}
	for _, s := range steps {
		s.compiled() // panics on a bad regexp, here rather than mid-tour
	}
}

// TestTour runs the README's tour as root, command by command.
func TestTour(t *testing.T) {
	cmds := readmeCommands(t)
	if len(cmds) != len(steps) {
		t.Fatalf("the README's tour has %d commands, the steps table %d (see TestTourInSync)", len(cmds), len(steps))
	}
	if os.Geteuid() != 0 {
		t.Skip("the tour runs a real node: needs root")
	}
	if _, err := os.Stat("/sys/class/net/mini0"); err == nil {
		t.Skip("another mini cluster runs on this machine (bridge mini0 exists); the tour needs the default names")
	}
	u := newUser(t)
	for i, s := range steps {
		if cmds[i] != s.cmd {
			t.Fatalf("README command %d is %q, the steps table has %q", i+1, cmds[i], s.cmd)
		}
		out, exit, took, err := u.run(s)
		t.Logf("$ %s   (%.1fs, exit %d)\n%s", s.cmd, took.Seconds(), exit, out)
		for settleBy := time.Now().Add(settleTimeout); s.settles && err == nil &&
			(exit != s.exit || !s.compiled().MatchString(out)) && time.Now().Before(settleBy); {
			out, exit, took, err = u.run(s)
			t.Logf("$ %s   (again: %.1fs, exit %d)\n%s", s.cmd, took.Seconds(), exit, out)
		}
		if err != nil {
			u.dumpLog()
			t.Fatalf("step %d %q: %v", i+1, s.cmd, err)
		}
		if exit != s.exit {
			u.dumpLog()
			t.Fatalf("step %d %q: exit status %d, want %d", i+1, s.cmd, exit, s.exit)
		}
		if !s.compiled().MatchString(out) {
			u.dumpLog()
			t.Fatalf("step %d %q: output does not match %q", i+1, s.cmd, s.want)
		}
	}
	if _, err := os.Stat(u.dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the data dir after mini delete: %v", err)
	}
	for _, link := range nodeLinks {
		if _, err := os.Stat("/sys/class/net/" + link); err == nil {
			t.Errorf("network device %s is left after mini delete", link)
		}
	}
}

// nodeLinks are the network devices a node makes under their default
// names: the pod bridge, the overlay's VXLAN device, the DNS address's.
var nodeLinks = []string{"mini0", "flannel.1", "mini-dns0"}

func readmeCommands(t *testing.T) []string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmds, err := tourCommands(f)
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	return cmds
}

// run runs one step's command with bash, as a user's shell would, and
// returns its output, its exit status and how long it took; err is for a
// command that could not run or ran out of time.
func (u *user) run(s step) (string, int, time.Duration, error) {
	timeout := s.timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", s.cmd)
	cmd.Dir, cmd.Env = u.root, u.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	inOwnGroup(cmd)
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if ctx.Err() != nil {
		return out.String(), -1, took, fmt.Errorf("not done in %s", timeout)
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode(), took, nil
	}
	if err != nil {
		return out.String(), -1, took, err
	}
	return out.String(), 0, took, nil
}

// dumpLog shows the end of the server's log, for a failed step.
func (u *user) dumpLog() {
	data, err := os.ReadFile(filepath.Join(u.dataDir, "mini.log"))
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > 100 {
		lines = lines[len(lines)-100:]
	}
	u.t.Logf("the end of %s/mini.log:\n%s", u.dataDir, strings.Join(lines, "\n"))
}
