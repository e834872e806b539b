package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
)

// tcpServer listens on addr inside ns; each connection is answered with the
// server's local address and the client's address as the server saw it.
func tcpServer(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	netnstest.ServeTCP(t, ns, addr, localRemote)
}

// udpServer answers each datagram the same way.
func udpServer(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	netnstest.ServeUDP(t, ns, addr, localRemote)
}

func localRemote(local, remote net.Addr) string { return local.String() + " " + remote.String() }

// dial connects from ns to addr and returns what the server said:
// "serverLocal clientAsSeen".
func dial(ns netns.NsHandle, network, addr string, timeout time.Duration) (string, error) {
	var out string
	err := netnsutil.Do(ns, func() error {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(timeout))
		if network == "udp4" {
			if _, err := c.Write([]byte("hi")); err != nil {
				return err
			}
			buf := make([]byte, 128)
			n, err := c.Read(buf)
			out = string(buf[:n])
			return err
		}
		b, err := io.ReadAll(c)
		out = string(b)
		return err
	})
	return out, err
}

func split2(s string) (string, string) {
	for i := range s {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func hostOf(addr string) string {
	h, _, _ := net.SplitHostPort(addr)
	return h
}

func TestTraffic(t *testing.T) {
	netnstest.RequireRoot(t)
	n := newTestNet(t)
	tcpServer(t, n.server, "10.42.2.2:8080")
	tcpServer(t, n.server, "10.42.2.3:8080")
	udpServer(t, n.server, "10.42.2.2:5353")

	web := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080))
	web.Spec.Type = v1.ServiceTypeNodePort
	sticky := svc("sticky", "10.43.0.22", port("http", v1.ProtocolTCP, 80, 0))
	sticky.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	sticky.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](60)}}
	local := svc("local", "10.43.0.23", port("http", v1.ProtocolTCP, 80, 30081))
	local.Spec.Type = v1.ServiceTypeNodePort
	local.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	remote := svc("remote", "10.43.0.24", port("http", v1.ProtocolTCP, 80, 30082))
	remote.Spec.Type = v1.ServiceTypeNodePort
	remote.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
	client := fake.NewClientset(web, sticky, local, remote,
		slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}, ep{ip: "10.42.2.3", node: testNode}),
		slice("sticky", "sticky-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}, ep{ip: "10.42.2.3", node: testNode}),
		slice("local", "local-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}),
		slice("remote", "remote-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.3", node: "node-b"}),
		svc("dns", "10.43.0.25", port("dns", v1.ProtocolUDP, 53, 0)),
		slice("dns", "dns-1", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.2.2", node: testNode}),
		svc("empty", "10.43.0.21", port("http", v1.ProtocolTCP, 80, 0), port("dns", v1.ProtocolUDP, 53, 0)),
	)
	startProxy(t, n, client, nil)
	const timeout = 2 * time.Second

	t.Run("ClusterIP from a pod, no SNAT, both endpoints", func(t *testing.T) {
		seen := map[string]bool{}
		for range 40 {
			out, err := dial(n.client, "tcp4", "10.43.0.20:80", timeout)
			if err != nil {
				t.Fatal(err)
			}
			srv, cl := split2(out)
			seen[hostOf(srv)] = true
			if hostOf(cl) != clientIP.String() {
				t.Fatalf("server saw client %s, want %s (no SNAT for pods)", cl, clientIP)
			}
		}
		if len(seen) != 2 {
			t.Errorf("endpoints reached: %v, want both", seen)
		}
	})
	t.Run("NodePort from outside is masqueraded", func(t *testing.T) {
		out, err := dial(n.outside, "tcp4", "192.168.77.1:30080", timeout)
		if err != nil {
			t.Fatal(err)
		}
		if _, cl := split2(out); hostOf(cl) != "10.42.2.1" {
			t.Errorf("server saw %s, want the node's address 10.42.2.1", cl)
		}
	})
	t.Run("ClusterIP from outside the cluster CIDR is masqueraded", func(t *testing.T) {
		out, err := dial(n.outside, "tcp4", "10.43.0.20:80", timeout)
		if err != nil {
			t.Fatal(err)
		}
		if _, cl := split2(out); hostOf(cl) != "10.42.2.1" {
			t.Errorf("server saw %s, want the node's address 10.42.2.1", cl)
		}
	})
	t.Run("hairpin", func(t *testing.T) {
		// The server pod reaching a Service that picks itself must see
		// the node as the source, or its reply would skip the DNAT.
		for range 10 {
			out, err := dial(n.server, "tcp4", "10.43.0.23:80", timeout)
			if err != nil {
				t.Fatal(err)
			}
			if _, cl := split2(out); hostOf(cl) != "10.42.2.1" {
				t.Fatalf("server saw %s, want 10.42.2.1", cl)
			}
		}
	})
	t.Run("affinity", func(t *testing.T) {
		first := ""
		for range 20 {
			out, err := dial(n.client, "tcp4", "10.43.0.22:80", timeout)
			if err != nil {
				t.Fatal(err)
			}
			srv, _ := split2(out)
			if first == "" {
				first = srv
			} else if srv != first {
				t.Fatalf("affinity broken: %s then %s", first, srv)
			}
		}
	})
	t.Run("externalTrafficPolicy Local keeps the source", func(t *testing.T) {
		out, err := dial(n.outside, "tcp4", "192.168.77.1:30081", timeout)
		if err != nil {
			t.Fatal(err)
		}
		if _, cl := split2(out); hostOf(cl) != outsideIP.String() {
			t.Errorf("server saw %s, want the client %s", cl, outsideIP)
		}
	})
	t.Run("externalTrafficPolicy Local without a local endpoint drops", func(t *testing.T) {
		_, err := dial(n.outside, "tcp4", "192.168.77.1:30082", 300*time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("dial: %v, want a timeout (dropped)", err)
		}
		// A pod is not external traffic: it reaches the remote endpoint.
		if _, err := dial(n.client, "tcp4", "10.43.0.24:80", timeout); err != nil {
			t.Errorf("ClusterIP of the same Service: %v", err)
		}
	})
	t.Run("no endpoints rejects", func(t *testing.T) {
		start := time.Now()
		_, err := dial(n.client, "tcp4", "10.43.0.21:80", timeout)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("TCP: %v, want connection refused", err)
		}
		_, err = dial(n.client, "udp4", "10.43.0.21:53", timeout)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("UDP: %v, want connection refused", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("rejects took %v", d)
		}
	})
	t.Run("UDP", func(t *testing.T) {
		out, err := dial(n.client, "udp4", "10.43.0.25:53", timeout)
		if err != nil {
			t.Fatal(err)
		}
		if srv, _ := split2(out); srv != "10.42.2.2:5353" {
			t.Errorf("answered by %s", srv)
		}
	})
	t.Run("endpoint changes touch only their Service", func(t *testing.T) {
		c := nftConn(t, n.node)
		handles := func(chain string) []uint64 {
			rules, err := c.GetRules(&nftables.Table{Name: "mini-proxy-test", Family: nftables.TableFamilyIPv4},
				&nftables.Chain{Name: chain})
			if err != nil {
				return nil
			}
			var hs []uint64
			for _, r := range rules {
				hs = append(hs, r.Handle)
			}
			return hs
		}
		reachesOnly := func(want netip.Addr) bool {
			for range 10 {
				out, err := dial(n.client, "tcp4", "10.43.0.20:80", timeout)
				if err != nil {
					return false
				}
				if srv, _ := split2(out); hostOf(srv) != want.String() {
					return false
				}
			}
			return true
		}
		update := func(version string, eps ...ep) {
			s := slice("web", "web-1", "http", v1.ProtocolTCP, 8080, eps...)
			s.ResourceVersion = version
			if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		webBefore := handles("service-ns/web/tcp/http")
		stickyBefore := handles("service-ns/sticky/tcp/http")
		stickyEpBefore := handles("endpoint-ns/sticky/tcp/http__10.42.2.2/8080")
		if len(webBefore) == 0 || len(stickyBefore) == 0 || len(stickyEpBefore) == 0 {
			t.Fatal("chains missing")
		}

		// One endpoint fewer: the balancing rule changes.
		update("2", ep{ip: "10.42.2.2", node: testNode})
		eventually(t, "web chain rewritten", func() bool { return !equalU64(handles("service-ns/web/tcp/http"), webBefore) })
		if !reachesOnly(serverIP) {
			t.Fatalf("traffic still reaches the removed endpoint %s", server2IP)
		}
		// One endpoint replaced by another: only the endpoints map changes.
		webOne := handles("service-ns/web/tcp/http")
		update("3", ep{ip: "10.42.2.3", node: testNode})
		eventually(t, "traffic to the new endpoint", func() bool { return reachesOnly(server2IP) })
		if got := handles("service-ns/web/tcp/http"); !equalU64(got, webOne) {
			t.Errorf("replacing an endpoint rewrote the chain: %v -> %v", webOne, got)
		}
		if got := handles("service-ns/sticky/tcp/http"); !equalU64(got, stickyBefore) {
			t.Errorf("another Service's chain was rewritten: %v -> %v", stickyBefore, got)
		}
		if got := handles("endpoint-ns/sticky/tcp/http__10.42.2.2/8080"); !equalU64(got, stickyEpBefore) {
			t.Errorf("another Service's endpoint chain was rewritten: %v -> %v", stickyEpBefore, got)
		}
	})
	_ = nodeIP
	_ = nodeOutIP
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
