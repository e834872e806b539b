package dns

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
)

// The root test's IP plan: a "node" namespace serving the cluster DNS
// address on its dummy link, and a "pod" namespace reaching it over a veth
// with a route for the Service CIDR, as a pod reaches its node.
const (
	nodeVethIP  = "192.0.2.1"
	podVethIP   = "192.0.2.2"
	vethPrefix  = 24
	serviceCIDR = "10.43.0.0/16"
	clusterDNS  = "10.43.0.10"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// newNetNS makes an anonymous network namespace with lo up, freed when the
// test ends and the last handle closes.
func newNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	ns, err := makeNetNS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

func makeNetNS() (netns.NsHandle, error) {
	type result struct {
		h   netns.NsHandle
		err error
	}
	rc := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the thread dies with this goroutine and never
		// runs anything else inside the new namespace.
		h, err := netns.New()
		if err == nil {
			var lo netlink.Link
			if lo, err = netlink.LinkByName("lo"); err == nil {
				err = netlink.LinkSetUp(lo)
			}
		}
		rc <- result{h, err}
	}()
	r := <-rc
	return r.h, r.err
}

// TestClusterAddressFromAnotherNamespace binds 10.43.0.10 on the dummy
// device inside a node namespace and queries it from a pod namespace.
func TestClusterAddressFromAnotherNamespace(t *testing.T) {
	requireRoot(t)
	node, pod := newNetNS(t), newNetNS(t)
	if err := linkNamespaces(node, pod); err != nil {
		t.Fatal(err)
	}

	client := fake.NewClientset(testCluster()...)
	var srv *Server
	err := inNetNS(node, func() error {
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
		err := inNetNS(pod, func() error {
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

// linkNamespaces joins node and pod by a veth, with the pod's route to the
// Service CIDR via the node.
func linkNamespaces(node, pod netns.NsHandle) error {
	nh, err := netlink.NewHandleAt(node, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer nh.Close()
	ph, err := netlink.NewHandleAt(pod, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer ph.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "veth-pod"
	if err := nh.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(pod)}); err != nil {
		return err
	}
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		ip   string
	}{{nh, "veth-pod", nodeVethIP}, {ph, "eth0", podVethIP}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			return err
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(side.ip), Mask: net.CIDRMask(vethPrefix, 32)}}
		if err := side.h.AddrAdd(l, addr); err != nil {
			return err
		}
		if err := side.h.LinkSetUp(l); err != nil {
			return err
		}
	}
	eth0, err := ph.LinkByName("eth0")
	if err != nil {
		return err
	}
	_, dst, _ := net.ParseCIDR(serviceCIDR)
	return ph.RouteAdd(&netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: dst, Gw: net.ParseIP(nodeVethIP)})
}
