package dns

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
)

// The root test's IP plan: a "node" namespace serving the cluster DNS
// address on its dummy link, and a "pod" namespace reaching it over a veth
// with a route for the Service CIDR, as a pod reaches its node.
const (
	nodeVethIP  = "192.0.2.1"
	podVethIP   = "192.0.2.2"
	vethPrefix  = "/24"
	serviceCIDR = "10.43.0.0/16"
	clusterDNS  = "10.43.0.10"
)

// TestClusterAddressFromAnotherNamespace binds 10.43.0.10 on the dummy
// device inside a node namespace and queries it from a pod namespace.
func TestClusterAddressFromAnotherNamespace(t *testing.T) {
	netnstest.RequireRoot(t)
	node, pod := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, netnsutil.End{NS: node, Name: "veth-pod", Addrs: []string{nodeVethIP + vethPrefix}},
		netnsutil.End{NS: pod, Name: "eth0", Addrs: []string{podVethIP + vethPrefix}})
	netnstest.Route(t, pod, serviceCIDR, nodeVethIP)

	client := fake.NewClientset(testCluster()...)
	var srv *Server
	err := netnsutil.Do(node, func() error {
		var err error
		srv, err = New(Config{
			Informers: informers.NewSharedInformerFactory(client, 0),
			Addresses: []netip.Addr{netip.MustParseAddr(clusterDNS)},
			Port:      DefaultPort,
			Device:    DefaultDevice,
			Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
			// An upstream nobody answers: the test never leaves its namespaces.
			Upstreams:       []string{net.JoinHostPort(podVethIP, "1")},
			UpstreamTimeout: 200 * time.Millisecond,
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := runServer(t, srv)

	for _, proto := range []string{"udp", "tcp"} {
		var r *dns.Msg
		err := netnsutil.Do(pod, func() error {
			c := &dns.Client{Net: proto, Timeout: 5 * time.Second}
			var err error
			r, _, err = c.Exchange(new(dns.Msg).SetQuestion("web.default.svc.cluster.local.", dns.TypeA), net.JoinHostPort(clusterDNS, "53"))
			return err
		})
		if err != nil {
			t.Fatalf("%s query from the pod namespace: %v", proto, err)
		}
		if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "10.43.0.20" {
			t.Fatalf("%s answer %v, want web's cluster IP", proto, r.Answer)
		}
	}

	// The device holds exactly the address, and goes with Close.
	h, err := netlink.NewHandleAt(node, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByName(DefaultDevice)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := h.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != clusterDNS+"/32" {
		t.Fatalf("addresses on %s: %v %v, want %s/32", DefaultDevice, addrs, err, clusterDNS)
	}
	stop()
	if _, err := h.LinkByName(DefaultDevice); !errors.As(err, new(netlink.LinkNotFoundError)) {
		t.Fatalf("%s still there after Close: %v", DefaultDevice, err)
	}
}
