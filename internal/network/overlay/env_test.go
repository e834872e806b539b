package overlay

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/netnsutil/netnstest"
)

// The root tests' plan: host i (1, 2) is a network namespace with
// "eth0" 192.0.2.i/24 on a veth to the other host, pod CIDR 10.42.i.0/24
// and one pod namespace behind a veth: "pod0" 10.42.i.1 on the host,
// "eth0" 10.42.i.2 in the pod. Node "ghost" (10.42.3.0/24 on 192.0.2.3)
// exists only in the API. Nothing leaves these namespaces.
const (
	hostPfx  = 24
	hostMTU  = 1500
	testPort = 8080
)

// testHost is one "machine".
type testHost struct {
	name   string
	ns     netns.NsHandle
	pod    netns.NsHandle
	h      *netlink.Handle
	ip     netip.Addr
	cidr   netip.Prefix
	podIP  netip.Addr
	client kubernetes.Interface
}

func handleAt(t *testing.T, ns netns.NsHandle) *netlink.Handle {
	t.Helper()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// newHosts builds hosts 1 and 2, joined by a veth, each with a pod.
func newHosts(t *testing.T) (*testHost, *testHost) {
	t.Helper()
	netnstest.RequireRoot(t)
	hosts := make([]*testHost, 2)
	for i := range hosts {
		n := i + 1
		hs := &testHost{
			name: fmt.Sprintf("host%d", n), ns: netnstest.New(t), pod: netnstest.New(t),
			ip: ipOf(n), cidr: cidrOf(n), podIP: netip.AddrFrom4([4]byte{10, 42, byte(n), 2}),
		}
		hs.h = handleAt(t, hs.ns)
		netnstest.Veth(t, netnsutil.End{NS: hs.ns, Name: "pod0", Addrs: []string{fmt.Sprintf("10.42.%d.1/24", n)}, MTU: hostMTU - encapOverhead},
			netnsutil.End{NS: hs.pod, Name: "eth0", Addrs: []string{fmt.Sprintf("10.42.%d.2/24", n)}})
		netnstest.Route(t, hs.pod, "", fmt.Sprintf("10.42.%d.1", n))
		must(t, "ip_forward", netnsutil.Do(hs.ns, func() error {
			return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644)
		}))
		hosts[i] = hs
	}
	a, b := hosts[0], hosts[1]
	netnstest.Veth(t, netnsutil.End{NS: a.ns, Name: "eth0", Addrs: []string{a.ip.String() + "/24"}, MTU: hostMTU},
		netnsutil.End{NS: b.ns, Name: "eth0", Addrs: []string{b.ip.String() + "/24"}})
	return a, b
}

// apiNodes returns the Nodes of hosts, as the server's node IPAM leaves
// them (a pod CIDR, no annotations), and the API-only "ghost" on backend.
func apiNodes(backend string, hosts ...*testHost) []*corev1.Node {
	var out []*corev1.Node
	for _, h := range hosts {
		out = append(out, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: h.name},
			Spec: corev1.NodeSpec{PodCIDR: h.cidr.String(), PodCIDRs: []string{h.cidr.String()}}})
	}
	return append(out, ghost(backend))
}

func ghost(backend string) *corev1.Node {
	n := node(3, backend)
	n.Name = "ghost"
	return n
}

// running is an Overlay being run by a test.
type running struct {
	*Overlay
	stop func()
}

// start runs an Overlay for h on backend, created inside h's namespace
// with its own informers (as each node has), until stop or the end of t
// (pass the top-level test's t for an Overlay that outlives a subtest).
func start(t *testing.T, h *testHost, backend string) *running {
	t.Helper()
	var o *Overlay
	err := netnsutil.Do(h.ns, func() (err error) {
		o, err = New(Config{Client: h.client, Informers: informers.NewSharedInformerFactory(h.client, 0), NodeName: h.name,
			Backend: backend, PublicIP: h.ip, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)).With("host", h.name)})
		return err
	})
	must(t, "New", err)
	t.Cleanup(func() { o.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	r := &running{Overlay: o}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: Run: %v", h.name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s: Run did not return", h.name)
		}
	}
	t.Cleanup(r.stop)
	select {
	case <-o.Ready():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: overlay not ready", h.name)
	}
	return r
}

// eventually polls cond until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// serveTCP answers every connection to the pod of h with the client's
// address, until the test ends.
func serveTCP(t *testing.T, h *testHost) {
	t.Helper()
	netnstest.ServeTCP(t, h.pod, netip.AddrPortFrom(h.podIP, testPort).String(), netnstest.RemoteIPLine)
}

// askTCP connects from the pod of from to the pod of to and returns the
// client address the server saw.
func askTCP(from, to *testHost) (string, error) {
	var c net.Conn
	err := netnsutil.Do(from.pod, func() (err error) {
		c, err = net.DialTimeout("tcp4", netip.AddrPortFrom(to.podIP, testPort).String(), time.Second)
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// ping sends one ICMP echo from the pod of from to the pod of to and
// waits for its reply.
func ping(from, to *testHost, seq uint16) error {
	return netnsutil.Do(from.pod, func() error {
		conn, err := net.ListenPacket("ip4:icmp", from.podIP.String())
		if err != nil {
			return err
		}
		defer conn.Close()
		const id = 0x6d69
		msg := []byte{8, 0, 0, 0, 0, 0, 0, 0, 'm', 'i', 'n', 'i'}
		binary.BigEndian.PutUint16(msg[4:], id)
		binary.BigEndian.PutUint16(msg[6:], seq)
		binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
		if _, err := conn.WriteTo(msg, &net.IPAddr{IP: to.podIP.AsSlice()}); err != nil {
			return err
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1500)
		for {
			n, src, err := conn.ReadFrom(buf)
			if err != nil {
				return err
			}
			if n >= 8 && buf[0] == 0 && src.String() == to.podIP.String() &&
				binary.BigEndian.Uint16(buf[4:]) == id && binary.BigEndian.Uint16(buf[6:]) == seq {
				return nil
			}
		}
	})
}

func icmpChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// checkTraffic checks ICMP and TCP between the two pods both ways, with
// the pods' own addresses (no NAT on the way).
func checkTraffic(t *testing.T, a, b *testHost) {
	t.Helper()
	for i, pair := range [][2]*testHost{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		eventually(t, 3*time.Second, fmt.Sprintf("ping %s -> %s", from.podIP, to.podIP), func() error {
			return ping(from, to, uint16(i+1))
		})
		got, err := askTCP(from, to)
		if err != nil {
			t.Fatalf("tcp %s -> %s: %v", from.podIP, to.podIP, err)
		}
		if got != from.podIP.String() {
			t.Errorf("tcp %s -> %s: server saw %s", from.podIP, to.podIP, got)
		}
	}
}

// kernelState reads h's overlay state as the package itself does.
func kernelState(h *testHost, device string) (state, error) {
	dev := 0
	if l, err := h.h.LinkByName(device); err == nil {
		dev = l.Attrs().Index
	} else if !isNotFound(err) {
		return state{}, err
	}
	return readState(h.h, dev)
}

var errStill = errors.New("still there")
