package proxy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
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

// testNet is the namespaces of the IP plan.
type testNet struct {
	node, client, server, outside netns.NsHandle
}

func newTestNet(t *testing.T) *testNet {
	n := &testNet{node: netnstest.New(t), client: netnstest.New(t), server: netnstest.New(t), outside: netnstest.New(t)}
	for i, l := range []struct {
		peer          netns.NsHandle
		node, gateway string
		peerAddrs     []string
	}{
		{n.client, "10.42.1.1/24", "10.42.1.1", []string{"10.42.1.2/24"}},
		{n.server, "10.42.2.1/24", "10.42.2.1", []string{"10.42.2.2/24", "10.42.2.3/24"}},
		{n.outside, "192.168.77.1/24", "192.168.77.1", []string{"192.168.77.2/24"}},
	} {
		netnstest.Veth(t, netnsutil.End{NS: n.node, Name: fmt.Sprintf("pv%d", i+1), Addrs: []string{l.node}},
			netnsutil.End{NS: l.peer, Name: "eth0", Addrs: l.peerAddrs})
		netnstest.Route(t, l.peer, "", l.gateway)
	}
	// A node has a default route; without one, packets to a Service
	// without endpoints would fail routing before the reject rules.
	netnstest.Route(t, n.node, "", "192.168.77.2")
	err := netnsutil.Do(n.node, func() error {
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
	go func() { done <- netnsutil.Do(n.node, func() error { return p.Run(ctx) }) }()
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
	err := netnsutil.Do(ns, func() error {
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
	err := netnsutil.Do(ns, func() error {
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
