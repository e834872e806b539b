package overlay

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// newCluster builds the two hosts and one API (a fake clientset both
// share, as both would share the server) holding their Nodes and the
// ghost on backend.
func newCluster(t *testing.T, backend string) (*testHost, *testHost, *fake.Clientset) {
	a, b := newHosts(t)
	client := fake.NewClientset()
	for _, n := range apiNodes(backend, a, b) {
		if _, err := client.CoreV1().Nodes().Create(t.Context(), n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a.client, b.client = client, client
	serveTCP(t, a)
	serveTCP(t, b)
	return a, b, client
}

func getNode(t *testing.T, h *testHost) *corev1.Node {
	t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(t.Context(), h.name, metav1.GetOptions{})
	must(t, "get node", err)
	return n
}

// wantState is what h should hold with peers on backend.
func wantState(t *testing.T, h *testHost, backend string, peers ...*corev1.Node) state {
	t.Helper()
	dev, under := 0, 0
	if l, err := h.h.LinkByName(defaultDevice); err == nil {
		dev = l.Attrs().Index
	}
	l, err := h.h.LinkByName("eth0")
	must(t, "eth0", err)
	under = l.Attrs().Index
	self := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.name}}
	return desired(backend, peersOf(append(peers, self), backend, h.name, h.cidr, h.ip), dev, under)
}

// waitState waits until h's kernel holds exactly want.
func waitState(t *testing.T, h *testHost, within time.Duration, want state) {
	t.Helper()
	eventually(t, within, h.name+" kernel state", func() error {
		have, err := kernelState(h, defaultDevice)
		if err != nil {
			return err
		}
		if p := diff(have, want); !p.empty() {
			return fmt.Errorf("differs: %+v", p)
		}
		return nil
	})
}

func TestVXLAN(t *testing.T) {
	a, b, client := newCluster(t, BackendVXLAN)
	ra := start(t, a, BackendVXLAN)
	start(t, b, BackendVXLAN)

	// The device, as flannel makes it.
	link, err := a.h.LinkByName(defaultDevice)
	must(t, "device", err)
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		t.Fatalf("%s is a %s", defaultDevice, link.Type())
	}
	eth0, err := a.h.LinkByName("eth0")
	must(t, "eth0", err)
	if vx.VxlanId != 1 || vx.Port != 8472 || vx.Learning || !vx.SrcAddr.Equal(a.ip.AsSlice()) ||
		vx.VtepDevIndex != eth0.Attrs().Index || vx.MTU != hostMTU-50 || vx.Flags&net.FlagUp == 0 {
		t.Errorf("device: vni %d port %d learning %v local %s dev %d mtu %d flags %v",
			vx.VxlanId, vx.Port, vx.Learning, vx.SrcAddr, vx.VtepDevIndex, vx.MTU, vx.Flags)
	}
	addrs, err := a.h.AddrList(vx, netlink.FAMILY_V4)
	must(t, "addrs", err)
	if len(addrs) != 1 || addrs[0].IPNet.String() != "10.42.1.0/32" {
		t.Errorf("device addresses %v, want 10.42.1.0/32", addrs)
	}
	if ra.MTU() != hostMTU-50 {
		t.Errorf("MTU() = %d, want %d", ra.MTU(), hostMTU-50)
	}
	want := wantAnnotations(BackendVXLAN, a.ip, 1, vx.HardwareAddr)
	if got := getNode(t, a).Annotations; !mapHas(got, want) {
		t.Errorf("annotations %v, want %v", got, want)
	}

	// Entries for host2 and for the ghost, which only the API knows.
	waitState(t, a, time.Second, wantState(t, a, BackendVXLAN, getNode(t, b), ghost(BackendVXLAN)))
	waitState(t, b, time.Second, wantState(t, b, BackendVXLAN, getNode(t, a), ghost(BackendVXLAN)))
	checkTraffic(t, a, b)

	// A node leaving takes its route, neighbour and FDB entry with it.
	must(t, "delete ghost", client.CoreV1().Nodes().Delete(t.Context(), "ghost", metav1.DeleteOptions{}))
	began := time.Now()
	waitState(t, a, time.Second, wantState(t, a, BackendVXLAN, getNode(t, b)))
	t.Logf("node removal reflected in %v", time.Since(began))

	top := t
	t.Run("restart keeps everything", func(t *testing.T) {
		deletes := watchDeletes(t, a)
		ra.stop()
		ra = start(top, a, BackendVXLAN)
		again, err := a.h.LinkByName(defaultDevice)
		must(t, "device", err)
		if again.Attrs().Index != vx.Index || again.Attrs().HardwareAddr.String() != vx.HardwareAddr.String() {
			t.Errorf("device after restart: index %d mac %s, want %d %s", again.Attrs().Index, again.Attrs().HardwareAddr, vx.Index, vx.HardwareAddr)
		}
		checkTraffic(t, a, b)
		if d := deletes(); len(d) > 0 {
			t.Errorf("restart deleted %v", d)
		}
	})

	t.Run("a device made again keeps its MAC", func(t *testing.T) {
		ra.stop()
		link, err := a.h.LinkByName(defaultDevice)
		must(t, "device", err)
		must(t, "delete device", a.h.LinkDel(link))
		ra = start(top, a, BackendVXLAN)
		again, err := a.h.LinkByName(defaultDevice)
		must(t, "device", err)
		if again.Attrs().HardwareAddr.String() != vx.HardwareAddr.String() {
			t.Errorf("new device mac %s, want %s from the annotation", again.Attrs().HardwareAddr, vx.HardwareAddr)
		}
		// host2's FDB still knows the MAC: traffic flows at once.
		checkTraffic(t, a, b)
	})

	t.Run("a removed entry is put back", func(t *testing.T) {
		must(t, "delete route", a.h.RouteDel(&netlink.Route{Dst: &net.IPNet{IP: b.cidr.Addr().AsSlice(), Mask: net.CIDRMask(24, 32)}}))
		// The periodic check (10 s) would repair it; a Node event does so at once.
		n := getNode(t, b)
		n.Annotations[AnnotationKubeSubnetManager] = "yes"
		_, err := client.CoreV1().Nodes().Update(t.Context(), n, metav1.UpdateOptions{})
		must(t, "update", err)
		waitState(t, a, time.Second, wantState(t, a, BackendVXLAN, getNode(t, b)))
	})

	t.Run("teardown", func(t *testing.T) {
		ra.stop()
		must(t, "Teardown", ra.Teardown())
		if _, err := a.h.LinkByName(defaultDevice); !isNotFound(err) {
			t.Errorf("device still there after Teardown (%v)", err)
		}
		waitState(t, a, 0, state{})
	})
}

func TestHostGW(t *testing.T) {
	a, b, client := newCluster(t, BackendHostGW)
	ra := start(t, a, BackendHostGW)
	rb := start(t, b, BackendHostGW)
	if ra.MTU() != hostMTU {
		t.Errorf("MTU() = %d, want %d", ra.MTU(), hostMTU)
	}
	if got, want := getNode(t, a).Annotations, wantAnnotations(BackendHostGW, a.ip, 1, nil); !mapHas(got, want) {
		t.Errorf("annotations %v, want %v", got, want)
	}
	if _, err := a.h.LinkByName(defaultDevice); !isNotFound(err) {
		t.Errorf("host-gw made %s (%v)", defaultDevice, err)
	}
	waitState(t, a, time.Second, wantState(t, a, BackendHostGW, getNode(t, b), ghost(BackendHostGW)))
	waitState(t, b, time.Second, wantState(t, b, BackendHostGW, getNode(t, a), ghost(BackendHostGW)))
	checkTraffic(t, a, b)

	must(t, "delete ghost", client.CoreV1().Nodes().Delete(t.Context(), "ghost", metav1.DeleteOptions{}))
	waitState(t, a, time.Second, wantState(t, a, BackendHostGW, getNode(t, b)))

	// A node changing address moves its route. b's own overlay is stopped
	// first: running, it would put its real address back on its Node.
	rb.stop()
	n := getNode(t, b)
	n.Annotations[AnnotationPublicIP] = "192.0.2.9"
	_, err := client.CoreV1().Nodes().Update(t.Context(), n, metav1.UpdateOptions{})
	must(t, "update", err)
	waitState(t, a, time.Second, state{routes: []route{{dst: b.cidr, gw: netip.MustParseAddr("192.0.2.9"), link: linkIndex(t, a, "eth0")}}})
}

func TestBackendSwitch(t *testing.T) {
	a, b, client := newCluster(t, BackendVXLAN)
	for _, backend := range []string{BackendVXLAN, BackendHostGW, BackendVXLAN, BackendNone} {
		t.Run(backend, func(t *testing.T) {
			g := ghost(backend)
			g.ResourceVersion = ""
			cur, err := client.CoreV1().Nodes().Get(t.Context(), "ghost", metav1.GetOptions{})
			must(t, "get ghost", err)
			g.ResourceVersion = cur.ResourceVersion
			_, err = client.CoreV1().Nodes().Update(t.Context(), g, metav1.UpdateOptions{})
			must(t, "update ghost", err)
			ra, rb := start(t, a, backend), start(t, b, backend)
			defer ra.stop()
			defer rb.stop()
			_, err = a.h.LinkByName(defaultDevice)
			if hasDevice := err == nil; hasDevice != (backend == BackendVXLAN) {
				t.Errorf("device present %v (%v)", hasDevice, err)
			}
			if backend == BackendNone {
				waitState(t, a, time.Second, state{})
				waitState(t, b, time.Second, state{})
				if _, err := askTCP(a, b); err == nil {
					t.Error("pods reach each other with no backend")
				}
				return
			}
			waitState(t, a, time.Second, wantState(t, a, backend, getNode(t, b), ghost(backend)))
			waitState(t, b, time.Second, wantState(t, b, backend, getNode(t, a), ghost(backend)))
			checkTraffic(t, a, b)
		})
	}
}

func mapHas(got, want map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func linkIndex(t *testing.T, h *testHost, name string) int {
	t.Helper()
	l, err := h.h.LinkByName(name)
	must(t, name, err)
	return l.Attrs().Index
}

// watchDeletes records route and neighbour deletions in h from now on;
// the returned function stops and lists them.
func watchDeletes(t *testing.T, h *testHost) func() []string {
	t.Helper()
	done := make(chan struct{})
	routes := make(chan netlink.RouteUpdate, 64)
	neighs := make(chan netlink.NeighUpdate, 64)
	ns := h.ns
	must(t, "route subscribe", netlink.RouteSubscribeWithOptions(routes, done, netlink.RouteSubscribeOptions{Namespace: &ns}))
	must(t, "neigh subscribe", netlink.NeighSubscribeWithOptions(neighs, done, netlink.NeighSubscribeOptions{Namespace: &ns}))
	var got []string
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for routes != nil || neighs != nil {
			select {
			case u, ok := <-routes:
				if !ok {
					routes = nil
				} else if u.Type == unix.RTM_DELROUTE {
					got = append(got, "route "+u.Dst.String())
				}
			case u, ok := <-neighs:
				if !ok {
					neighs = nil
				} else if u.Type == unix.RTM_DELNEIGH {
					got = append(got, "neigh "+u.IP.String()+" "+u.HardwareAddr.String())
				}
			}
		}
	}()
	stopped := false
	stop := func() []string {
		if !stopped {
			stopped = true
			close(done)
			<-collected
		}
		return slices.Clone(got)
	}
	t.Cleanup(func() { stop() })
	return stop
}
