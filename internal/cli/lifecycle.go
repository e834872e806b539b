package cli

// What start, stop, status, logs and delete share: where the data dir is,
// the checks that turn a host problem into one line with a hint, and the
// client that reads the cluster's state through its admin kubeconfig.

import (
	"context"
	"errors"
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

// requireRoot fails with a hint when mini runs as another user.
func requireRoot(verb string) error { return requireRootAs(os.Geteuid(), verb) }

func requireRootAs(euid int, verb string) error {
	if euid != 0 {
		return fmt.Errorf("%s must run as root (mini runs containers and sets up the pod network): try sudo mini %s", verb, verb)
	}
	return nil
}

// checkPortFree fails with a hint when another process listens on the
// port a server is about to take.
func checkPortFree(address string, port int, flag string) error {
	if port == 0 {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(address, strconv.Itoa(port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("port %d is in use by another process; stop it or pass %s", port, flag)
	}
	if err != nil {
		return fmt.Errorf("port %d: %w", port, err)
	}
	return l.Close()
}

// checkRuntimeInstalled fails with how to install what mini's own
// containerd needs.
func checkRuntimeInstalled() error {
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed: run scripts/install-deps.sh, or apt-get install containerd runc", bin)
		}
	}
	return nil
}

// absDataDir is the data dir as an absolute path: the background server
// and later commands must agree on it wherever they run from.
func absDataDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--data-dir: %w", err)
	}
	return abs, nil
}

// adminKubeconfig is where the server writes its admin kubeconfig.
func adminKubeconfig(dataDir string) string { return filepath.Join(dataDir, "kubeconfig.yaml") }

// adminClient is a client of the cluster of dataDir as its admin, with a
// short timeout per request: every caller polls or reports.
func adminClient(kubeconfigPath string) (*kubernetes.Clientset, *rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return nil, nil, err
	}
	cfg.Timeout = 2 * time.Second
	cfg.QPS, cfg.Burst = 100, 100
	// componentstatuses carry a deprecation warning; it is not news here.
	cfg.WarningHandler = rest.NoWarnings{}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return client, cfg, nil
}

// apiReady asks the API's /readyz.
func apiReady(ctx context.Context, client kubernetes.Interface) error {
	body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return err
	}
	if string(body) != "ok" {
		return fmt.Errorf("/readyz: %s", body)
	}
	return nil
}
