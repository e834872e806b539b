package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/runtime"
)

const (
	sandboxA = "aaaa0001aaaa0001aaaa0001aaaa0001aaaa0001aaaa0001aaaa0001aaaa0001"
	sandboxB = "bbbb0002bbbb0002bbbb0002bbbb0002bbbb0002bbbb0002bbbb0002bbbb0002"
)

func TestPodNetwork(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.net.Setup(ctx, sandboxA, []string{testPodA}, nil); !errors.Is(err, ErrNoPodCIDR) {
		t.Fatalf("Setup before SetPodCIDR: got %v, want ErrNoPodCIDR", err)
	}
	if err := e.net.SetPodCIDR(ctx, testPodCIDR); err != nil {
		t.Fatalf("SetPodCIDR: %v", err)
	}
	portsA := []runtime.PortMapping{
		{Protocol: "TCP", ContainerPort: 8080, HostPort: 30080},
		{Protocol: "TCP", ContainerPort: 8080, HostPort: 30081, HostIP: testHostIP},
	}
	portsB := []runtime.PortMapping{{Protocol: "UDP", ContainerPort: 5353, HostPort: 30053}}
	pathA, err := e.net.Setup(ctx, sandboxA, []string{"fd00::2", testPodA}, portsA)
	if err != nil {
		t.Fatalf("Setup A: %v", err)
	}
	if pathA != e.net.NetNSPath(sandboxA) {
		t.Errorf("Setup returned %s, NetNSPath says %s", pathA, e.net.NetNSPath(sandboxA))
	}
	pathB, err := e.net.Setup(ctx, sandboxB, []string{testPodB}, portsB)
	if err != nil {
		t.Fatalf("Setup B: %v", err)
	}
	podA, podB := openNS(t, pathA), openNS(t, pathB)
	checkMTU(t, e.net.host, "mini0", testUplinkMTU)
	checkMTU(t, e.net.host, vethName(sandboxA), testUplinkMTU)
	podAH, err := netlink.NewHandleAt(podA, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer podAH.Close()
	checkMTU(t, podAH, podIfName, testUplinkMTU)
	serve(t, podA, ":8080")
	serve(t, podB, ":8080")
	serveUDP(t, podB, ":5353")
	serve(t, e.host, testGateway+":9000")
	serve(t, e.remote, testRemoteIP+":9000")

	// Each case: who connects where, and the client address the server
	// must see ("" : the connection must fail).
	cases := []struct {
		name    string
		from    netns.NsHandle
		network string
		to      string
		sees    string
	}{
		{"pod to pod", podB, "tcp4", testPodA + ":8080", testPodB},
		{"pod to pod, other way", podA, "tcp4", testPodB + ":8080", testPodA},
		{"pod to gateway", podA, "tcp4", testGateway + ":9000", testPodA},
		{"host to pod", e.host, "tcp4", testPodA + ":8080", testGateway},
		{"pod to outside is masqueraded", podA, "tcp4", testRemoteIP + ":9000", testHostIP},
		{"hostPort from another host keeps the client address", e.remote, "tcp4", testHostIP + ":30080", testRemoteIP},
		{"hostPort from the node by its address", e.host, "tcp4", testHostIP + ":30080", testHostIP},
		{"hostPort from the node on localhost", e.host, "tcp4", "127.0.0.1:30080", testGateway},
		{"hostPort from another pod", podB, "tcp4", testHostIP + ":30080", testGateway},
		{"hostPort hairpin to the same pod", podA, "tcp4", testGateway + ":30080", testGateway},
		{"hostPort with hostIP on that address", e.remote, "tcp4", testHostIP + ":30081", testRemoteIP},
		{"hostPort with hostIP not on another address", e.host, "tcp4", "127.0.0.1:30081", ""},
		{"UDP hostPort", e.remote, "udp4", testHostIP + ":30053", testRemoteIP},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			timeout := 3 * time.Second
			if c.sees == "" {
				timeout = time.Second
			}
			got, err := askWithin(t, c.from, c.network, c.to, timeout)
			if c.sees == "" {
				if err == nil && got != "" {
					t.Fatalf("%s answered (saw %s), want no answer", c.to, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", c.to, err)
			}
			if got != c.sees {
				t.Errorf("%s saw the client as %s, want %s", c.to, got, c.sees)
			}
		})
	}

	t.Run("Setup again is idempotent", func(t *testing.T) {
		before := linkIndex(t, e, vethName(sandboxA))
		rulesBefore := countRules(t, e, chainHostPorts)
		path, err := e.net.Setup(ctx, sandboxA, []string{testPodA}, portsA)
		if err != nil || path != pathA {
			t.Fatalf("Setup again: %s, %v; want %s", path, err, pathA)
		}
		if after := linkIndex(t, e, vethName(sandboxA)); after != before {
			t.Errorf("veth recreated: index %d, was %d", after, before)
		}
		if n := countRules(t, e, chainHostPorts); n != rulesBefore {
			t.Errorf("hostports has %d rules, was %d", n, rulesBefore)
		}
	})

	t.Run("Setup repairs what is missing", func(t *testing.T) {
		l, err := e.net.host.LinkByName(vethName(sandboxB))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.net.host.LinkDel(l); err != nil {
			t.Fatal(err)
		}
		if _, err := askWithin(t, podA, "tcp4", testPodB+":8080", time.Second); err == nil {
			t.Fatal("pod B still reachable without its veth")
		}
		if _, err := e.net.Setup(ctx, sandboxB, []string{testPodB}, portsB); err != nil {
			t.Fatalf("Setup again: %v", err)
		}
		if got, err := ask(t, podA, "tcp4", testPodB+":8080"); err != nil || got != testPodA {
			t.Fatalf("after repair: %q, %v", got, err)
		}
		if got, err := ask(t, podB, "tcp4", testRemoteIP+":9000"); err != nil || got != testHostIP {
			t.Fatalf("default route after repair: %q, %v", got, err)
		}
	})

	t.Run("Setup puts back a deleted bridge and table", func(t *testing.T) {
		br, err := e.net.host.LinkByName("mini0")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.net.host.LinkDel(br); err != nil {
			t.Fatal(err)
		}
		if err := e.net.deleteTable(); err != nil {
			t.Fatal(err)
		}
		for _, s := range []struct {
			id, ip string
			ports  []runtime.PortMapping
		}{{sandboxA, testPodA, portsA}, {sandboxB, testPodB, portsB}} {
			if _, err := e.net.Setup(ctx, s.id, []string{s.ip}, s.ports); err != nil {
				t.Fatalf("Setup %s: %v", s.id, err)
			}
		}
		if got, err := ask(t, podB, "tcp4", testPodA+":8080"); err != nil || got != testPodB {
			t.Errorf("pod to pod: %q, %v", got, err)
		}
		if got, err := ask(t, e.remote, "tcp4", testHostIP+":30080"); err != nil || got != testRemoteIP {
			t.Errorf("hostPort: %q, %v", got, err)
		}
	})

	t.Run("Teardown removes veth, rules and namespace file", func(t *testing.T) {
		for i := 0; i < 2; i++ { // the second time finds nothing to do
			if err := e.net.Teardown(ctx, sandboxA); err != nil {
				t.Fatalf("Teardown %d: %v", i, err)
			}
		}
		if _, err := e.net.host.LinkByName(vethName(sandboxA)); !isNotFound(err) {
			t.Errorf("veth still there: %v", err)
		}
		if _, err := os.Stat(pathA); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace file still there: %v", err)
		}
		if n := countRules(t, e, chainHostPorts); n != 1 {
			t.Errorf("hostports has %d rules, want pod B's 1", n)
		}
		if _, err := askWithin(t, e.remote, "tcp4", testHostIP+":30080", time.Second); err == nil {
			t.Error("hostPort of a torn-down pod still answers")
		}
	})

	t.Run("SetPodCIDR is idempotent and re-addresses", func(t *testing.T) {
		want := map[string]int{chainPrerouting: 1, chainOutput: 1, chainPostrouting: 3, chainMartians: 1, chainHostPorts: 1}
		for _, cidr := range []string{testPodCIDR, testPodCIDR, testPodCIDR2} {
			if err := e.net.SetPodCIDR(ctx, cidr); err != nil {
				t.Fatalf("SetPodCIDR %s: %v", cidr, err)
			}
			for chain, n := range want {
				if got := countRules(t, e, chain); got != n {
					t.Errorf("after SetPodCIDR %s: chain %s has %d rules, want %d", cidr, chain, got, n)
				}
			}
		}
		br, err := e.net.host.LinkByName("mini0")
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := e.net.host.AddrList(br, netlink.FAMILY_V4)
		if err != nil {
			t.Fatal(err)
		}
		if len(addrs) != 1 || addrs[0].IP.String() != testGateway2 {
			t.Errorf("bridge addresses %v, want only %s/24", addrs, testGateway2)
		}
		if got, want := br.Attrs().HardwareAddr.String(), bridgeMAC(net.ParseIP(testGateway2).To4()).String(); got != want {
			t.Errorf("bridge MAC %s, want %s", got, want)
		}
	})

	t.Run("Cleanup removes bridge and table", func(t *testing.T) {
		if err := e.net.Cleanup(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.net.host.LinkByName("mini0"); !isNotFound(err) {
			t.Errorf("bridge still there: %v", err)
		}
		if _, err := e.net.host.LinkByName(vethName(sandboxB)); !isNotFound(err) {
			t.Errorf("veth of B still there: %v", err)
		}
		if ok, err := e.net.tableExists(); ok || err != nil {
			t.Errorf("table still there: %v", err)
		}
		if _, err := os.Stat(pathB); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace file of B still there: %v", err)
		}
	})
}

// TestSetupTeardownTime measures one Setup+Teardown with a hostPort, the
// work the agent adds to every pod start and stop.
func TestSetupTeardownTime(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if err := e.net.SetPodCIDR(ctx, testPodCIDR); err != nil {
		t.Fatal(err)
	}
	ports := []runtime.PortMapping{{Protocol: "TCP", ContainerPort: 80, HostPort: 30080}}
	const rounds = 20
	var setup, teardown time.Duration
	for i := 0; i < rounds; i++ {
		start := time.Now()
		if _, err := e.net.Setup(ctx, sandboxA, []string{testPodA}, ports); err != nil {
			t.Fatal(err)
		}
		mid := time.Now()
		if err := e.net.Teardown(ctx, sandboxA); err != nil {
			t.Fatal(err)
		}
		setup += mid.Sub(start)
		teardown += time.Since(mid)
	}
	t.Logf("mean over %d rounds: Setup %v, Teardown %v", rounds, setup/rounds, teardown/rounds)
}

func checkMTU(t *testing.T, h *netlink.Handle, name string, want int) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	if got := l.Attrs().MTU; got != want {
		t.Errorf("%s MTU %d, want %d", name, got, want)
	}
}

func linkIndex(t *testing.T, e *testEnv, name string) int {
	t.Helper()
	l, err := e.net.host.LinkByName(name)
	if err != nil {
		t.Fatalf("find %s: %v", name, err)
	}
	return l.Attrs().Index
}

func countRules(t *testing.T, e *testEnv, chain string) int {
	t.Helper()
	rules, err := e.net.nft.GetRules(e.net.table(), &nftables.Chain{Name: chain, Table: e.net.table()})
	if err != nil {
		t.Fatalf("rules of %s: %v", chain, err)
	}
	return len(rules)
}

// TestConcurrentSetup sets up and tears down many sandboxes at once, as
// the agent does when a node fills up: per-sandbox work runs in parallel,
// nftables transactions one at a time, and nothing is lost or left over.
func TestConcurrentSetup(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if err := e.net.SetPodCIDR(ctx, testPodCIDR); err != nil {
		t.Fatal(err)
	}
	const pods = 32
	id := func(i int) string { return fmt.Sprintf("sandbox-%02d", i) }
	start := time.Now()
	var g errgroup.Group
	for i := 0; i < pods; i++ {
		g.Go(func() error {
			ports := []runtime.PortMapping{{ContainerPort: 80, HostPort: int32(31000 + i)}}
			_, err := e.net.Setup(ctx, id(i), []string{fmt.Sprintf("10.42.7.%d", 10+i)}, ports)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Logf("%d concurrent Setups in %v", pods, time.Since(start))
	if n := countRules(t, e, chainHostPorts); n != pods {
		t.Errorf("hostports has %d rules, want %d", n, pods)
	}
	serve(t, openNS(t, e.net.NetNSPath(id(pods-1))), ":80")
	if got, err := ask(t, e.remote, "tcp4", fmt.Sprintf("%s:%d", testHostIP, 31000+pods-1)); err != nil || got != testRemoteIP {
		t.Errorf("hostPort of the last pod: %q, %v", got, err)
	}
	start = time.Now()
	for i := 0; i < pods; i++ {
		g.Go(func() error { return e.net.Teardown(ctx, id(i)) })
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	t.Logf("%d concurrent Teardowns in %v", pods, time.Since(start))
	if n := countRules(t, e, chainHostPorts); n != 0 {
		t.Errorf("hostports has %d rules after Teardown, want 0", n)
	}
	links, err := e.net.host.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Type() == "veth" && l.Attrs().Name != "uplink" {
			t.Errorf("veth %s left over", l.Attrs().Name)
		}
	}
}
