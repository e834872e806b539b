package proxy

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
)

func TestRulesetListsCleanly(t *testing.T) {
	netnstest.RequireRoot(t)
	n := newTestNet(t)
	web := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080), port("dns", v1.ProtocolUDP, 53, 0))
	web.Spec.Type = v1.ServiceTypeNodePort
	web.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	client := fake.NewClientset(web,
		slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}, ep{ip: "10.42.2.3", node: "other"}),
		slice("web", "web-2", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.2.2", node: testNode}),
		svc("empty", "10.43.0.21", port("", v1.ProtocolSCTP, 9, 0)),
		svc("plain", "10.43.0.26", port("http", v1.ProtocolTCP, 80, 0)),
		slice("plain", "plain-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}, ep{ip: "10.42.2.3", node: testNode}),
	)
	startProxy(t, n, client, nil)
	out := nft(t, n.node, "list", "ruleset")
	t.Log(out)
	for _, want := range []string{
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"10.43.0.20 . tcp . 80 : goto service-ns/web/tcp/http",
		"dnat to 10.42.2.2:8080",
		"numgen random mod 2 vmap @balance-service-ns/web/tcp/http", "0x00000000 : goto endpoint-ns/web/tcp/http__10.42.2.2/8080, 0x00000001 : goto endpoint-ns/web/tcp/http__10.42.2.3/8080",
		"10.43.0.21 . sctp . 9 : goto reject-chain",
		"10.43.0.26 . tcp . 80 : goto service-ns/plain/tcp/http",
		"meta l4proto tcp dnat ip to numgen random mod 2 map @endpoints-0",
		"10.42.2.2 . 8080",
		"ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade",
		"10.42.2.2 . 10.42.2.2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ruleset lacks %q", want)
		}
	}
}

func TestLBAddressesOnDevice(t *testing.T) {
	netnstest.RequireRoot(t)
	n := newTestNet(t)
	lb := svc("lb", "10.43.0.40", port("http", v1.ProtocolTCP, 80, 30090))
	lb.Spec.Type = v1.ServiceTypeLoadBalancer
	lb.Annotations = map[string]string{LBNodeAnnotation: testNode}
	// 10.42.1.1 is the node's own address: it must not be added again.
	lb.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.168.77.50"}, {IP: "10.42.1.1"}}
	client := fake.NewClientset(lb, slice("lb", "lb-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.2.2", node: testNode}))
	tcpServer(t, n.server, "10.42.2.2:8080")
	startProxy(t, n, client, func(c *Config) { c.LBDevice = "lbtest0" })

	devAddrs := func() []string {
		var out []string
		netnsutil.Do(n.node, func() error {
			l, err := netlink.LinkByName("lbtest0")
			if err != nil {
				return err
			}
			as, err := netlink.AddrList(l, netlink.FAMILY_V4)
			for _, a := range as {
				out = append(out, a.IPNet.String())
			}
			return err
		})
		return out
	}
	eventually(t, "LB address on the device", func() bool {
		a := devAddrs()
		return len(a) == 1 && a[0] == "192.168.77.50/32"
	})
	// The node answers the address: from outside, it reaches the endpoint.
	if _, err := dial(n.outside, "tcp4", "192.168.77.50:80", 2*time.Second); err != nil {
		t.Fatalf("LoadBalancer address: %v", err)
	}
	lb = lb.DeepCopy()
	lb.ResourceVersion = "2"
	lb.Annotations[LBNodeAnnotation] = "node-b"
	if _, err := client.CoreV1().Services("ns").Update(context.Background(), lb, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "LB address removed", func() bool { return len(devAddrs()) == 0 })
}

func TestStaleUDPConntrack(t *testing.T) {
	netnstest.RequireRoot(t)
	n := newTestNet(t)
	udpServer(t, n.server, "10.42.2.2:5353")
	udpServer(t, n.server, "10.42.2.3:5353")
	client := fake.NewClientset(svc("dns", "10.43.0.25", port("dns", v1.ProtocolUDP, 53, 0)),
		slice("dns", "dns-1", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.2.2", node: testNode}))
	startProxy(t, n, client, nil)

	// One client socket, so every datagram has the same 5-tuple and
	// would follow the same conntrack entry.
	var conn net.Conn
	if err := netnsutil.Do(n.client, func() (err error) { conn, err = net.Dial("udp4", "10.43.0.25:53"); return }); err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ask := func() string {
		conn.SetDeadline(time.Now().Add(300 * time.Millisecond))
		conn.Write([]byte("hi"))
		buf := make([]byte, 128)
		k, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		srv, _ := split2(string(buf[:k]))
		return srv
	}
	if got := ask(); got != "10.42.2.2:5353" {
		t.Fatalf("first answer from %q", got)
	}
	s := slice("dns", "dns-1", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.2.3", node: testNode})
	s.ResourceVersion = "2"
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the same UDP flow answered by the new endpoint", func() bool { return ask() == "10.42.2.3:5353" })
}
