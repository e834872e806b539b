package proxy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// Test IP plan, the same in every root test (each test has its own
// namespaces, so the addresses never meet):
//
//	client ns  eth0 10.42.1.2/24  ── node ns  10.42.1.1/24 (pod network)
//	server ns  eth0 10.42.2.2/24, 10.42.2.3/24 ── node ns 10.42.2.1/24
//	outside ns eth0 192.168.77.2/24 ── node ns 192.168.77.1/24 (not a pod)
//	Services   10.43.0.0/16; the node's default route points at the outside ns
var (
	clientIP  = netip.MustParseAddr("10.42.1.2")
	serverIP  = netip.MustParseAddr("10.42.2.2")
	server2IP = netip.MustParseAddr("10.42.2.3")
	outsideIP = netip.MustParseAddr("192.168.77.2")
	nodeIP    = netip.MustParseAddr("10.42.1.1")
	nodeOutIP = netip.MustParseAddr("192.168.77.1")
)

const testNode = "node-a"

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, nftables)")
	}
}

// inNS runs fn on a thread that is in ns.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: it dies with the goroutine instead
		// of going back to the pool in the wrong namespace.
		if err := netns.Set(ns); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

var nsCount atomic.Int32

// newNS makes a network namespace with loopback up, closed in Cleanup.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	var ns netns.NsHandle
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var err error
		ns, err = netns.New() // also moves this thread into it
		if err == nil {
			var lo netlink.Link
			if lo, err = netlink.LinkByName("lo"); err == nil {
				err = netlink.LinkSetUp(lo)
			}
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		t.Fatalf("new netns: %v", err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// veth links ns a and b, addressing each side with its prefixes.
func veth(t *testing.T, a netns.NsHandle, aAddrs []string, b netns.NsHandle, bName string, bAddrs []string, bGateway string) {
	t.Helper()
	name := fmt.Sprintf("pv%d", nsCount.Add(1))
	err := inNS(a, func() error {
		la := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: bName, PeerNamespace: netlink.NsFd(int(b))}
		if err := netlink.LinkAdd(la); err != nil {
			return err
		}
		l, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		for _, s := range aAddrs {
			addr, _ := netlink.ParseAddr(s)
			if err := netlink.AddrAdd(l, addr); err != nil {
				return err
			}
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatalf("veth: %v", err)
	}
	err = inNS(b, func() error {
		l, err := netlink.LinkByName(bName)
		if err != nil {
			return err
		}
		for _, s := range bAddrs {
			addr, _ := netlink.ParseAddr(s)
			if err := netlink.AddrAdd(l, addr); err != nil {
				return err
			}
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		gw := net.ParseIP(bGateway)
		return netlink.RouteAdd(&netlink.Route{Gw: gw})
	})
	if err != nil {
		t.Fatalf("veth peer: %v", err)
	}
}

// testNet is the namespaces of the IP plan.
type testNet struct {
	node, client, server, outside netns.NsHandle
}

func newTestNet(t *testing.T) *testNet {
	n := &testNet{node: newNS(t), client: newNS(t), server: newNS(t), outside: newNS(t)}
	veth(t, n.node, []string{"10.42.1.1/24"}, n.client, "eth0", []string{"10.42.1.2/24"}, "10.42.1.1")
	veth(t, n.node, []string{"10.42.2.1/24"}, n.server, "eth0", []string{"10.42.2.2/24", "10.42.2.3/24"}, "10.42.2.1")
	veth(t, n.node, []string{"192.168.77.1/24"}, n.outside, "eth0", []string{"192.168.77.2/24"}, "192.168.77.1")
	err := inNS(n.node, func() error {
		// A node has a default route; without one, packets to a Service
		// without endpoints would fail routing before the reject rules.
		if err := netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP("192.168.77.2")}); err != nil {
			return err
		}
		return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
	})
	if err != nil {
		t.Fatalf("ip_forward: %v", err)
	}
	return n
}

// startProxy runs a proxy in the node namespace against a fake clientset
// and waits until it is ready.
func startProxy(t *testing.T, n *testNet, client *fake.Clientset, mod func(*Config)) *Proxy {
	t.Helper()
	factory := informers.NewSharedInformerFactory(client, 0)
	cfg := Config{Informers: factory, NodeName: testNode, Table: "mini-proxy-test", MinSyncInterval: time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := netns.Set(n.node); err != nil {
			done <- err
			return
		}
		done <- p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})
	select {
	case <-p.Ready():
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("proxy not ready in 10s")
	}
	return p
}

// nft runs the nft binary in ns.
func nft(t *testing.T, ns netns.NsHandle, args ...string) string {
	t.Helper()
	var out []byte
	err := inNS(ns, func() error {
		var err error
		out, err = exec.Command("nft", args...).CombinedOutput()
		return err
	})
	if err != nil {
		t.Fatalf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// nftConn opens a google/nftables connection in ns.
func nftConn(t *testing.T, ns netns.NsHandle) *nftables.Conn {
	t.Helper()
	var c *nftables.Conn
	err := inNS(ns, func() error {
		var err error
		c, err = nftables.New(nftables.AsLasting())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseLasting() })
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
