package network

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
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

// testEnv is a throwaway host with an uplink to a remote host and a
// Network working on it.
type testEnv struct {
	host, remote netns.NsHandle
	net          *Network
	nsDir        string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	netnstest.RequireRoot(t)
	e := &testEnv{host: netnstest.New(t), remote: netnstest.New(t)}
	pfx := "/" + strconv.Itoa(testUplinkPfx)
	netnstest.Veth(t, netnsutil.End{NS: e.host, Name: "uplink", Addrs: []string{testHostIP + pfx}, MTU: testUplinkMTU},
		netnsutil.End{NS: e.remote, Name: "eth0", Addrs: []string{testRemoteIP + pfx}, MTU: testUplinkMTU})
	netnstest.Route(t, e.host, "", testRemoteIP)

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
	err = netnsutil.Do(e.host, func() (err error) {
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
	netnstest.ServeTCP(t, ns, addr, netnstest.RemoteIPLine)
}

// serveUDP answers every datagram to addr inside ns with the sender's
// address.
func serveUDP(t *testing.T, ns netns.NsHandle, addr string) {
	t.Helper()
	netnstest.ServeUDP(t, ns, addr, netnstest.RemoteIPLine)
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
	err := netnsutil.Do(ns, func() (err error) {
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
