package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The test IP plan. The "host" is a throwaway network namespace holding
// the bridge; "remote" is another host on a link to it.
const (
	testClusterCIDR = "10.42.0.0/16"
	testPodCIDR     = "10.42.7.0/24"
	testGateway     = "10.42.7.1"
	testPodA        = "10.42.7.2"
	testPodB        = "10.42.7.3"
	testHostIP      = "192.0.2.1" // the host's address on its uplink
	testRemoteIP    = "192.0.2.2" // the other host's
	testUplinkPfx   = 24
	testUplinkMTU   = 1450           // the pod network must take it from the default route
	testPodCIDR2    = "10.42.8.0/24" // for re-addressing
	testGateway2    = "10.42.8.1"
)

// requireRoot skips tests that change kernel state when not run as root.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// newNetNS makes an anonymous network namespace, freed when the test ends
// and the last handle closes.
func newNetNS(t *testing.T) netns.NsHandle {
	t.Helper()
	type result struct {
		h   netns.NsHandle
		err error
	}
	rc := make(chan result, 1)
	go func() {
		goruntime.LockOSThread()
		// The thread is never unlocked: it dies with this goroutine, so it
		// never runs anything else inside the new namespace.
		h, err := netns.New()
		rc <- result{h, err}
	}()
	r := <-rc
	if r.err != nil {
		t.Fatalf("new network namespace: %v", r.err)
	}
	t.Cleanup(func() { r.h.Close() })
	return r.h
}

// inNS runs fn on a thread inside ns.
func inNS(t *testing.T, ns netns.NsHandle, fn func() error) error {
	t.Helper()
	return inNetNS(ns, fn)
}

// testEnv is a throwaway host with an uplink to a remote host and a
// Network working on it.
type testEnv struct {
	host, remote netns.NsHandle
	net          *Network
	nsDir        string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	requireRoot(t)
	e := &testEnv{host: newNetNS(t), remote: newNetNS(t)}
	hostH, err := netlink.NewHandleAt(e.host, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer hostH.Close()
	remoteH, err := netlink.NewHandleAt(e.remote, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer remoteH.Close()
	for _, h := range []*netlink.Handle{hostH, remoteH} {
		if err := ensureLinkUp(h, "lo"); err != nil {
			t.Fatal(err)
		}
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "uplink"
	attrs.MTU = testUplinkMTU
	if err := hostH.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "eth0", PeerNamespace: netlink.NsFd(e.remote), PeerMTU: testUplinkMTU}); err != nil {
		t.Fatalf("uplink: %v", err)
	}
	for _, side := range []struct {
		h    *netlink.Handle
		name string
		ip   string
	}{{hostH, "uplink", testHostIP}, {remoteH, "eth0", testRemoteIP}} {
		l, err := side.h.LinkByName(side.name)
		if err != nil {
			t.Fatal(err)
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP(side.ip), Mask: net.CIDRMask(testUplinkPfx, 32)}}
		if err := side.h.AddrAdd(l, addr); err != nil {
			t.Fatal(err)
		}
		if err := side.h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := hostH.RouteAdd(&netlink.Route{Gw: net.ParseIP(testRemoteIP)}); err != nil {
		t.Fatalf("default route: %v", err)
	}

	dir, err := os.MkdirTemp("/tmp", "mininet")
	if err != nil {
		t.Fatal(err)
	}
	e.nsDir = filepath.Join(dir, "netns")
	t.Cleanup(func() {
		// Whatever Cleanup left mounted (it should leave nothing).
		entries, _ := os.ReadDir(e.nsDir)
		for _, en := range entries {
			_ = removeNetNS(filepath.Join(e.nsDir, en.Name()))
		}
		_ = unmountNetNSDir(e.nsDir)
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	err = inNS(t, e.host, func() error {
		e.net, err = New(Config{ClusterCIDR: testClusterCIDR, NetNSDir: e.nsDir, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
		return err
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.net.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		if err := e.net.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// serve answers every TCP connection to addr inside ns with the client's
// address as the server saw it, until the test ends.
func serve(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var ln net.Listener
	if err := inNS(t, ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
}

// serveUDP answers every datagram to addr inside ns with the sender's
// address.
func serveUDP(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := inNS(t, ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
		t.Fatalf("listen on udp %s: %v", addr, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo([]byte(from.(*net.UDPAddr).IP.String()+"\n"), from)
		}
	}()
}

// ask connects to addr from inside ns and returns the client address the
// server reported.
func ask(t *testing.T, ns netns.NsHandle, network, addr string) (string, error) {
	return askWithin(t, ns, network, addr, 3*time.Second)
}

// askWithin is ask with a timeout, short for connections that must fail.
func askWithin(t *testing.T, ns netns.NsHandle, network, addr string, timeout time.Duration) (string, error) {
	t.Helper()
	var c net.Conn
	err := inNS(t, ns, func() (err error) {
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return "", err
	}
	if strings.HasPrefix(network, "udp") {
		if _, err := c.Write([]byte("?")); err != nil {
			return "", err
		}
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// openNS opens a sandbox's namespace file.
func openNS(t *testing.T, path string) netns.NsHandle {
	t.Helper()
	h, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}
