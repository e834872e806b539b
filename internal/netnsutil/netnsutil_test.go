package netnsutil_test

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
)

// inode identifies the network namespace of the calling thread; the
// caller keeps its thread locked while it compares.
func inode() (uint64, error) {
	var st unix.Stat_t
	err := unix.Stat("/proc/thread-self/ns/net", &st)
	return st.Ino, err
}

func nsInode(t *testing.T, ns netns.NsHandle) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(ns), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestDo(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t)
	want := nsInode(t, ns)
	errFn := errors.New("from fn")
	for _, tc := range []struct {
		name string
		ret  error
	}{{"ok", nil}, {"fn fails", errFn}} {
		t.Run(tc.name, func(t *testing.T) {
			var got uint64
			err := netnsutil.Do(ns, func() (err error) {
				if got, err = inode(); err != nil {
					return err
				}
				return tc.ret
			})
			if !errors.Is(err, tc.ret) || (tc.ret == nil && err != nil) {
				t.Fatalf("Do = %v, want %v", err, tc.ret)
			}
			if got != want {
				t.Fatalf("fn ran in namespace %d, want %d", got, want)
			}
		})
	}
}

// TestDoReturnsThreads runs Do many times and checks that no thread of
// the scheduler is left in the namespace afterwards: a leaked one would
// show up on some goroutine that locks a thread later.
func TestDoReturnsThreads(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t)
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	for range 50 {
		if err := netnsutil.Do(ns, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 50)
	for range 50 {
		go func() {
			cur, err := netns.Get()
			if err == nil {
				defer cur.Close()
				if !cur.Equal(host) {
					err = errors.New("a goroutine runs in the test namespace")
				}
			}
			errc <- err
		}()
	}
	for range 50 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}

func TestDoEnterFails(t *testing.T) {
	netnstest.RequireRoot(t)
	called := false
	err := netnsutil.Do(netns.None(), func() error { called = true; return nil })
	if err == nil || called {
		t.Fatalf("Do on no namespace = %v, fn called %v; want an error and no call", err, called)
	}
}

func TestDoInNew(t *testing.T) {
	netnstest.RequireRoot(t)
	host, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	var inside bool
	err = netnsutil.DoInNew(func() error {
		cur, err := netns.Get()
		if err != nil {
			return err
		}
		defer cur.Close()
		inside = !cur.Equal(host)
		return nil
	})
	if err != nil || !inside {
		t.Fatalf("DoInNew = %v, ran in a new namespace: %v", err, inside)
	}
}

// TestVeth joins two namespaces and sends a datagram across.
func TestVeth(t *testing.T) {
	netnstest.RequireRoot(t)
	a, b := netnstest.New(t), netnstest.New(t)
	netnstest.Veth(t, netnsutil.End{NS: a, Name: "va", Addrs: []string{"192.0.2.1/24"}, MTU: 1400},
		netnsutil.End{NS: b, Name: "vb", Addrs: []string{"192.0.2.2/24"}})
	netnstest.Route(t, b, "198.51.100.0/24", "192.0.2.1")

	h, err := netlink.NewHandleAt(b, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	vb, err := h.LinkByName("vb")
	if err != nil {
		t.Fatal(err)
	}
	if vb.Attrs().MTU != 1400 {
		t.Errorf("peer MTU %d, want the other end's 1400", vb.Attrs().MTU)
	}
	routes, err := h.RouteGet(net.ParseIP("198.51.100.7"))
	if err != nil || len(routes) != 1 || !routes[0].Gw.Equal(net.ParseIP("192.0.2.1")) {
		t.Errorf("route to 198.51.100.7: %v %v, want via 192.0.2.1", routes, err)
	}

	var pc net.PacketConn
	netnstest.Do(t, a, func() (err error) { pc, err = net.ListenPacket("udp4", "192.0.2.1:9999"); return err })
	defer pc.Close()
	var c net.Conn
	netnstest.Do(t, b, func() (err error) { c, err = net.Dial("udp4", "192.0.2.1:9999"); return err })
	defer c.Close()
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 8)
	n, from, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "hi" || from.(*net.UDPAddr).IP.String() != "192.0.2.2" {
		t.Fatalf("read %q from %v: %v", buf[:n], from, err)
	}
}

func TestAddVethErrors(t *testing.T) {
	netnstest.RequireRoot(t)
	a, b := netnstest.New(t), netnstest.New(t)
	for _, tc := range []struct {
		name string
		a, b netnsutil.End
	}{
		{"bad address", netnsutil.End{NS: a, Name: "x0", Addrs: []string{"nope"}}, netnsutil.End{NS: b, Name: "y0"}},
		{"name taken", netnsutil.End{NS: a, Name: "lo"}, netnsutil.End{NS: b, Name: "y1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := netnsutil.AddVeth(tc.a, tc.b); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if err := netnsutil.AddRoute(a, "", "not-an-ip"); err == nil {
		t.Error("AddRoute with a bad gateway: no error")
	}
}
