package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/benchutil"
	"mini.dev/mini/internal/testimages"
)

// checkHost says why this machine cannot run the real node, if it cannot.
func checkHost() error {
	if os.Geteuid() != 0 {
		return errors.New("the real node needs root")
	}
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not installed (scripts/install-deps.sh)", bin)
		}
	}
	return nil
}

// startNode runs `mini server` with its real node on dir, waits until the
// node is Ready and imports the busybox image into its containerd.
func startNode(ctx context.Context, o options, dir string) (*benchutil.Server, time.Duration, error) {
	flags := []string{"--node-name", nodeName, "--kubelet-port", "0", "--cluster-cidr", o.clusterCIDR}
	if o.nodeIP != "" {
		flags = append(flags, "--node-ip", o.nodeIP)
	}
	if o.pprofAddress != "" {
		flags = append(flags, "--pprof-address", o.pprofAddress)
	}
	srv, err := benchutil.StartServer(ctx, benchutil.ServerOptions{Bin: o.bin, Dir: dir, Agent: true, Flags: flags})
	if err != nil {
		return nil, 0, err
	}
	if err := benchutil.WaitNodesReady(ctx, srv.Client, 1, time.Minute); err != nil {
		return srv, 0, err
	}
	readyIn := time.Since(srv.Started)
	image, err := testimages.Busybox(o.imageCache)
	if err != nil {
		return srv, 0, err
	}
	out, err := exec.CommandContext(ctx, o.bin, "image", "import", "--data-dir", srv.DataDir, image).CombinedOutput()
	if err != nil {
		return srv, 0, fmt.Errorf("mini image import: %v\n%s", err, out)
	}
	return srv, readyIn, makeNamespace(ctx, srv.Client)
}

// nodeName is the benchmark node's name, so that it is told apart from
// any other node of this machine in logs.
const nodeName = "nodebench"

// makeNamespace creates the benchmark's namespace and waits for its
// default ServiceAccount, which pods need to be admitted.
func makeNamespace(ctx context.Context, c kubernetes.Interface) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return fmt.Errorf("the default ServiceAccount of %s: %w", namespace, err)
		}
		time.Sleep(50 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// nodeMemory is the node's processes' memory: the server itself, the
// containerd it supervises and the shims of that containerd.
type nodeMemory struct {
	server, containerd, shims benchutil.Memory
	shimCount                 int
}

// readNodeMemory finds containerd among the server's children and the
// shims by the socket their command line names: shims leave containerd's
// process tree (they are reparented), but always carry -address.
func readNodeMemory(srv *benchutil.Server) (nodeMemory, error) {
	m := nodeMemory{server: srv.Memory()}
	procs, err := benchutil.Processes()
	if err != nil {
		return m, err
	}
	for _, p := range procs {
		switch {
		case p.PPID == srv.PID() && p.Comm == "containerd":
			mem, _ := benchutil.ReadMemory(p.PID)
			m.containerd = m.containerd.Add(mem)
		case strings.HasPrefix(p.Comm, "containerd-shim") && strings.Contains(p.Cmdline, srv.DataDir+"/"):
			mem, _ := benchutil.ReadMemory(p.PID)
			m.shims = m.shims.Add(mem)
			m.shimCount++
		}
	}
	return m, nil
}

// settledMemory reads a process's memory once it has stopped moving (two
// readings half a second apart within 1 MiB), at most after 10 s: what a
// benchmark just did leaves garbage the runtime collects soon after.
func settledMemory(read func() benchutil.Memory) benchutil.Memory {
	prev := read()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond) // sampling: the condition is the change between readings
		cur := read()
		if d := cur.RSS - prev.RSS; d > -1<<20 && d < 1<<20 {
			return cur
		}
		prev = cur
	}
	return prev
}

// newDir makes the short temp dir a server runs in: containerd's socket
// path under it must stay within 108 bytes.
func newDir(workdir string) (string, error) {
	return os.MkdirTemp(workdir, "nb")
}
