package netnstest

import (
	"net"
	"testing"

	"github.com/vishvananda/netns"

	"mini.dev/mini/internal/netnsutil"
)

// Answer is what a test server writes back: local is the server's own
// address on the connection (for UDP the bound one), remote the client's
// as the server saw it, after whatever NAT was on the way.
type Answer func(local, remote net.Addr) string

// ServeTCP listens on addr inside ns until the test ends and answers each
// connection with one write of answer, then closes it.
func ServeTCP(t testing.TB, ns netns.NsHandle, addr string, answer Answer) {
	t.Helper()
	var ln net.Listener
	if err := netnsutil.Do(ns, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("listen on tcp %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(answer(c.LocalAddr(), c.RemoteAddr())))
			c.Close()
		}
	}()
}

// ServeUDP listens on addr inside ns until the test ends and answers each
// datagram with answer.
func ServeUDP(t testing.TB, ns netns.NsHandle, addr string, answer Answer) {
	t.Helper()
	var pc net.PacketConn
	if err := netnsutil.Do(ns, func() (err error) { pc, err = net.ListenPacket("udp4", addr); return err }); err != nil {
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
			_, _ = pc.WriteTo([]byte(answer(pc.LocalAddr(), from)), from)
		}
	}()
}

// RemoteIPLine answers with the client's IP address and a newline.
func RemoteIPLine(_, remote net.Addr) string {
	switch a := remote.(type) {
	case *net.TCPAddr:
		return a.IP.String() + "\n"
	case *net.UDPAddr:
		return a.IP.String() + "\n"
	}
	return remote.String() + "\n"
}
