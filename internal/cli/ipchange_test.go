package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"mini.dev/mini/internal/network/overlay"
)

// TestServerFollowsAnAddressChange is a laptop moving to another
// network: `mini server` stopped, the host's address changed, the server
// started again. The API certificate's IP SANs and the kubernetes
// Service's endpoints follow the new address; with a real node
// (containerd installed) so do the Node's InternalIP and its flannel
// public-ip annotation. The server runs in a network namespace of its
// own (`ip netns exec`), whose only link (one end of a veth pair) holds the address,
// so that its bridge, VXLAN device and nftables tables touch nothing
// else; deleting the namespace removes them all.
func TestServerFollowsAnAddressChange(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("runs mini server in a network namespace: needs root; not with -short")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	withNode := true
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			withNode = false
		}
	}
	t.Logf("with a real node: %v", withNode)
	// The test's IP plan: the host is on 10.199.1.0/24, then on
	// 10.199.2.0/24.
	const (
		addrA, gwA = "10.199.1.2", "10.199.1.1"
		addrB, gwB = "10.199.2.2", "10.199.2.1"
		link       = "minit0"
		nodeName   = "ipchange"
	)
	ns := fmt.Sprintf("mini-ipchange-%d", os.Getpid())
	tmp, err := os.MkdirTemp("/tmp", "mip") // short: containerd's socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	data := filepath.Join(tmp, "d")
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	inNS := func(args ...string) { t.Helper(); ip(append([]string{"-n", ns}, args...)...) }
	inNS("link", "set", "lo", "up")
	// A veth pair within the namespace: its carrier is up once both ends
	// are (the kernel may lack the dummy driver).
	inNS("link", "add", link, "type", "veth", "peer", "name", link+"p")
	inNS("link", "set", link+"p", "up")
	inNS("link", "set", link, "up")
	setAddress := func(addr, gw string) {
		inNS("addr", "flush", "dev", link)
		inNS("addr", "add", addr+"/24", "dev", link)
		inNS("route", "replace", "default", "via", gw, "dev", link)
	}

	// mini runs the test binary as mini inside the namespace.
	mini := func(ctx context.Context, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, os.Args[0]}, args...)...)
		cmd.Env = []string{"MINI_CLI_TEST_MAIN=1", "HOME=" + tmp, "PATH=" + os.Getenv("PATH")}
		return cmd
	}
	kubectl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := mini(ctx, append([]string{"kubectl", "--kubeconfig", adminKubeconfig(data)}, args...)...).CombinedOutput()
		return string(out), err
	}
	logPath := filepath.Join(tmp, "server.log")
	serve := func(nodeIP string) (stop func()) {
		t.Helper()
		args := []string{"server", "--data-dir", data, "--netns-dir", filepath.Join(tmp, "netns")}
		if withNode {
			args = append(args, "--node-name", nodeName, "--node-ip", nodeIP)
		} else {
			args = append(args, "--disable-agent")
		}
		logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer logFile.Close()
		cmd := mini(context.Background(), args...)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stopped := false
		stop = func() {
			if stopped {
				return
			}
			stopped = true
			_ = syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Errorf("server did not stop within 60s; killing it")
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		t.Cleanup(stop)
		return stop
	}
	// waitFollows waits until the server shows addr everywhere it should.
	waitFollows := func(addr string) {
		t.Helper()
		jsonpaths := map[string][]string{
			"kubernetes endpoints": {"endpoints", "kubernetes", "-o", "jsonpath={.subsets[0].addresses[*].ip}"},
		}
		if withNode {
			jsonpaths["node InternalIP"] = []string{"node", nodeName, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`}
			jsonpaths["node public-ip annotation"] = []string{"node", nodeName, "-o",
				"jsonpath={.metadata.annotations." + strings.ReplaceAll(overlay.AnnotationPublicIP, ".", `\.`) + "}"}
		}
		deadline := time.After(60 * time.Second)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for what, args := range jsonpaths {
			for {
				out, err := kubectl(append([]string{"get"}, args...)...)
				if err == nil && strings.TrimSpace(out) == addr {
					break
				}
				select {
				case <-deadline:
					b, _ := os.ReadFile(logPath)
					t.Fatalf("%s: %q (%v), want %s; server log:\n%s", what, out, err, addr, tail(string(b), 40))
				case <-tick.C:
				}
			}
		}
		if ips := certIPs(t, filepath.Join(data, "tls", "serving-kube-apiserver.crt")); !slices.Contains(ips, addr) {
			t.Fatalf("API certificate's IP SANs %v lack %s", ips, addr)
		}
	}

	setAddress(addrA, gwA)
	stop := serve(addrA)
	waitFollows(addrA)
	stop()

	setAddress(addrB, gwB)
	serve(addrB)
	waitFollows(addrB)
}

// certIPs are the IP SANs of a PEM certificate file.
func certIPs(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	return ips
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
