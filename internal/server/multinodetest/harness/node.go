package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Node is `mini server` or `mini agent` run in one host.
type Node struct {
	// Host is the host's index.
	Host     int
	Name, IP string
	DataDir  string
	NetNSDir string
	LogPath  string
	// Args follow the binary: "server ..." or "agent ...".
	Args []string

	c       *Cluster
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// NewNode lays out a node in host i under dir (not started).
func (c *Cluster) NewNode(i int, name, dir string) *Node {
	return &Node{c: c, Host: i, Name: name, IP: c.Hosts.Addr(i),
		DataDir: filepath.Join(dir, "data"), NetNSDir: filepath.Join(dir, "netns"), LogPath: filepath.Join(dir, "mini.log")}
}

// HiddenArgs keep the hosts apart where they share the root's files:
// each node's pod network namespaces are mounted in its own dir.
func (n *Node) HiddenArgs() []string {
	return []string{"--netns-dir", n.NetNSDir}
}

// Start runs the node's process in its host, in a process group of its
// own, logging to LogPath (appended to across restarts).
func (n *Node) Start() error {
	if err := os.MkdirAll(filepath.Dir(n.LogPath), 0o755); err != nil {
		return err
	}
	log, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	fmt.Fprintf(log, "=== %s mini %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(n.Args, " "))
	argv := n.c.Hosts.Exec(n.Host, append([]string{n.c.Spec.Bin}, n.Args...)...)
	n.cmd = exec.Command(argv[0], argv[1:]...)
	n.cmd.Stdout, n.cmd.Stderr = log, log
	n.cmd.Env = append(os.Environ(), "HOME="+n.c.Home())
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	n.exited = exited
	go func(cmd *exec.Cmd) {
		err := cmd.Wait()
		n.waitErr = err
		close(exited)
	}(n.cmd)
	return nil
}

// Exited is closed once the process started last has exited.
func (n *Node) Exited() <-chan struct{} { return n.exited }

// Err is how the process exited (read after Exited).
func (n *Node) Err() error { return n.waitErr }

// Running says whether the node's process runs.
func (n *Node) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Stop ends the node's process with SIGTERM, as ^C or systemd would, and
// kills its group after timeout.
func (n *Node) Stop(timeout time.Duration) error {
	if !n.Running() {
		return nil
	}
	syscall.Kill(n.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-n.exited:
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		return nil
	case <-time.After(timeout):
		n.Kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM", n.Name, timeout)
	}
}

// Kill kills the node's process group and waits for the process.
func (n *Node) Kill() {
	if !n.Running() {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	<-n.exited
}

// waitFile waits until path exists, failing at once if the node exits.
func (n *Node) waitFile(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-n.exited:
			return fmt.Errorf("%s exited (%v) before writing %s:\n%s", n.Name, n.waitErr, path, TailFile(n.LogPath, 40))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not write %s within %s", n.Name, path, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// ImportImages imports image tars into the node's containerd, as a user
// would with `mini image import`.
func (n *Node) ImportImages(tars []string) error {
	for _, tar := range tars {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		out, err := exec.CommandContext(ctx, n.c.Spec.Bin, "image", "import", "--data-dir", n.DataDir, tar).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("mini image import %s on %s: %w\n%s", filepath.Base(tar), n.Name, err, out)
		}
	}
	return nil
}

// TailFile is the last n lines of a file.
func TailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return strings.Join(all, "\n")
}
