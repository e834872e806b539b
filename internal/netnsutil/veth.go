package netnsutil

import (
	"cmp"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// End is one side of a veth pair.
type End struct {
	NS    netns.NsHandle
	Name  string
	Addrs []string // CIDR notation: "10.42.1.1/24"
	MTU   int      // 0: the other end's if set, else the kernel's default
}

// AddVeth makes a veth pair from a.Name in a.NS to b.Name in b.NS, puts
// each end's addresses on it and brings both ends up. It works through
// netlink sockets opened in the namespaces, switching no thread.
func AddVeth(a, b End) error {
	ha, err := netlink.NewHandleAt(a.NS, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer ha.Close()
	hb, err := netlink.NewHandleAt(b.NS, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer hb.Close()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = a.Name
	attrs.MTU = a.MTU
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: b.Name, PeerNamespace: netlink.NsFd(b.NS), PeerMTU: uint32(b.MTU)}
	if err := ha.LinkAdd(veth); err != nil {
		return fmt.Errorf("veth %s/%s: %w", a.Name, b.Name, err)
	}
	for _, end := range []struct {
		h *netlink.Handle
		End
	}{{ha, a}, {hb, b}} {
		l, err := end.h.LinkByName(end.Name)
		if err != nil {
			return fmt.Errorf("%s: %w", end.Name, err)
		}
		for _, s := range end.Addrs {
			addr, err := netlink.ParseAddr(s)
			if err != nil {
				return err
			}
			if err := end.h.AddrAdd(l, addr); err != nil {
				return fmt.Errorf("address %s on %s: %w", s, end.Name, err)
			}
		}
		if err := end.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("%s up: %w", end.Name, err)
		}
	}
	return nil
}

// AddRoute adds a route in ns to dst (CIDR notation; "" for the default
// route) via gateway gw.
func AddRoute(ns netns.NsHandle, dst, gw string) error {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	r := &netlink.Route{Gw: net.ParseIP(gw)}
	if r.Gw == nil {
		return fmt.Errorf("gateway %q is no IP address", gw)
	}
	if dst != "" {
		if _, r.Dst, err = net.ParseCIDR(dst); err != nil {
			return err
		}
	}
	if err := h.RouteAdd(r); err != nil {
		return fmt.Errorf("route %s via %s: %w", cmp.Or(dst, "default"), gw, err)
	}
	return nil
}
