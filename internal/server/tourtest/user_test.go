package tourtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mini.dev/mini/internal/daemon"
)

// user is a clean account that types the tour: its own HOME, a data dir
// of its own given as mini's defaults are overridden (DATA_DIR for make,
// MINI_DATA_DIR for mini), and free ports for the API and the node, given
// the same way, so that the commands stay exactly the README's.
type user struct {
	t       *testing.T
	root    string // the repository
	home    string
	dataDir string
	env     []string
}

func newUser(t *testing.T) *user {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// Short: containerd's sockets under the data dir must fit in 108 bytes.
	dir, err := os.MkdirTemp("/tmp", "tour")
	if err != nil {
		t.Fatal(err)
	}
	u := &user{t: t, root: root, home: filepath.Join(dir, "home"), dataDir: filepath.Join(dir, "data")}
	if err := os.Mkdir(u.home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		u.cleanup()
		// Never remove a tree that still has mounts: it would empty
		// them (a pod's volume, a container's rootfs).
		if m := mountsUnder(dir); len(m) > 0 {
			t.Errorf("left mounted under %s (kept): %s", dir, strings.Join(m, ", "))
			return
		}
		os.RemoveAll(dir)
	})
	goBin := goCommand()
	u.env = []string{
		"HOME=" + u.home,
		"PATH=" + strings.Join([]string{filepath.Join(root, "bin"), filepath.Dir(goBin), os.Getenv("PATH")}, ":"),
		"LANG=C.UTF-8",
		"DATA_DIR=" + u.dataDir,
		"MINI_DATA_DIR=" + u.dataDir,
		"MINI_HTTPS_LISTEN_PORT=" + strconv.Itoa(freePort(t)),
		"MINI_KUBELET_PORT=" + strconv.Itoa(freePort(t)),
	}
	// The go command's caches stay the developer's: a fresh HOME would
	// otherwise build mini and the test images from nothing.
	for _, v := range []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN"} {
		if val := goEnv(t, goBin, v); val != "" {
			u.env = append(u.env, v+"="+val)
		}
	}
	return u
}

// cleanup deletes what the tour left when it stopped half-way: mini
// delete removes the cluster; a server that still runs then is killed by
// the pid its data dir records.
func (u *user) cleanup() {
	if _, err := os.Stat(u.dataDir); err != nil {
		return // the tour's mini delete ran
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(u.root, "bin", "mini"), "delete", "--yes")
	cmd.Env = u.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	inOwnGroup(cmd)
	err := cmd.Run()
	u.t.Logf("cleanup: mini delete --yes: %v\n%s", err, out.String())
	if srv, err := daemon.Find(u.dataDir); err == nil {
		u.t.Logf("cleanup: killing mini server pid %d", srv.PID)
		_ = syscall.Kill(-srv.PID, syscall.SIGKILL)
		_ = syscall.Kill(srv.PID, syscall.SIGKILL)
	}
}

// mountsUnder lists the mount points below dir.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var under []string
	for _, line := range strings.Split(string(data), "\n") {
		// The fifth field is the mount point.
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			under = append(under, f[4])
		}
	}
	return under
}

// inOwnGroup runs cmd in a process group of its own, killed whole when
// the command is cancelled; mini start's server leaves it (a session of
// its own) and is not killed with it.
func inOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
}

func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func goEnv(t *testing.T, goBin, name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	out, err := exec.Command(goBin, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
