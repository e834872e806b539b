package overlay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// RouteProtocol marks the routes the overlay makes (`ip route` shows
// "proto 109"): after a restart, and in Teardown, it knows which routes
// are its own without keeping any state, and leaves everyone else's
// alone.
const RouteProtocol netlink.RouteProtocol = 109

// readState reads the overlay's part of the kernel: its routes, and, when
// dev is a device index (not 0), the device's IPv4 neighbours and FDB.
func readState(h *netlink.Handle, dev int) (state, error) {
	var s state
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4,
		&netlink.Route{Protocol: RouteProtocol, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return s, fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		dst, ok := prefixOf(r.Dst)
		if !ok {
			continue
		}
		gw, _ := netip.AddrFromSlice(r.Gw.To4())
		s.routes = append(s.routes, route{dst: dst, gw: gw, link: r.LinkIndex, onlink: r.Flags&int(netlink.FLAG_ONLINK) != 0})
	}
	if dev == 0 {
		return s, nil
	}
	neighs, err := h.NeighList(dev, netlink.FAMILY_V4)
	if err != nil {
		return s, fmt.Errorf("list neighbours: %w", err)
	}
	for _, n := range neighs {
		ip, ok := netip.AddrFromSlice(n.IP.To4())
		if !ok {
			continue
		}
		s.neighs = append(s.neighs, neigh{ip: ip, mac: n.HardwareAddr.String(), permanent: n.State == netlink.NUD_PERMANENT})
	}
	entries, err := h.NeighList(dev, unix.AF_BRIDGE)
	if err != nil {
		return s, fmt.Errorf("list fdb: %w", err)
	}
	for _, n := range entries {
		dst, _ := netip.AddrFromSlice(n.IP.To4())
		s.fdb = append(s.fdb, fdb{mac: n.HardwareAddr.String(), dst: dst, permanent: n.State&netlink.NUD_PERMANENT != 0})
	}
	return s, nil
}

// apply carries out p: deletions first, then FDB and neighbour entries
// before the routes that lead to them, so that a new route works the
// moment it appears. It goes on after a failure and returns every error.
func apply(h *netlink.Handle, p plan, dev int) error {
	var errs []error
	fail := func(what string, err error) {
		if err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("%s: %w", what, err))
		}
	}
	for _, r := range p.delRoutes {
		fail("delete route "+r.dst.String(), h.RouteDel(r.netlink()))
	}
	for _, n := range p.delNeighs {
		fail("delete neighbour "+n.ip.String(), h.NeighDel(&netlink.Neigh{LinkIndex: dev, Family: netlink.FAMILY_V4, IP: n.ip.AsSlice()}))
	}
	for _, f := range p.delFDB {
		mac, _ := net.ParseMAC(f.mac)
		fail("delete fdb "+f.mac, h.NeighDel(&netlink.Neigh{LinkIndex: dev, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			IP: ipOrNil(f.dst), HardwareAddr: mac}))
	}
	for _, f := range p.setFDB {
		mac, err := net.ParseMAC(f.mac)
		if err != nil {
			fail("fdb "+f.mac, err)
			continue
		}
		fail("set fdb "+f.mac, h.NeighSet(&netlink.Neigh{LinkIndex: dev, Family: unix.AF_BRIDGE, Flags: netlink.NTF_SELF,
			State: netlink.NUD_PERMANENT, IP: f.dst.AsSlice(), HardwareAddr: mac}))
	}
	for _, n := range p.setNeighs {
		mac, err := net.ParseMAC(n.mac)
		if err != nil {
			fail("neighbour "+n.ip.String(), err)
			continue
		}
		fail("set neighbour "+n.ip.String(), h.NeighSet(&netlink.Neigh{LinkIndex: dev, Family: netlink.FAMILY_V4,
			State: netlink.NUD_PERMANENT, Type: unix.RTN_UNICAST, IP: n.ip.AsSlice(), HardwareAddr: mac}))
	}
	for _, r := range p.setRoutes {
		fail("set route "+r.dst.String(), h.RouteReplace(r.netlink()))
	}
	return errors.Join(errs...)
}

func (r route) netlink() *netlink.Route {
	nr := &netlink.Route{
		LinkIndex: r.link,
		Dst:       &net.IPNet{IP: r.dst.Addr().AsSlice(), Mask: net.CIDRMask(r.dst.Bits(), 32)},
		Gw:        ipOrNil(r.gw),
		Protocol:  RouteProtocol,
		Table:     unix.RT_TABLE_MAIN,
		Scope:     netlink.SCOPE_UNIVERSE,
	}
	if r.onlink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr
}

// deleteOwnRoutes removes every route the overlay made, on any link.
func deleteOwnRoutes(h *netlink.Handle) error {
	s, err := readState(h, 0)
	if err != nil {
		return err
	}
	return apply(h, plan{delRoutes: s.routes}, 0)
}

// underlay returns the link that holds ip.
func underlay(h *netlink.Handle, ip netip.Addr) (netlink.Link, error) {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, a := range addrs {
		if got, ok := netip.AddrFromSlice(a.IP.To4()); ok && got == ip {
			return h.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("%w: no link holds %s", ErrNoPublicIP, ip)
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	ip, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	ones, bits := n.Mask.Size()
	if bits != 32 {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(ip, ones), true
}

func ipOrNil(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return a.AsSlice()
}

// isNotFound reports whether a netlink call failed because the object is
// absent.
func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH)
}
