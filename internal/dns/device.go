package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ensureDevice makes the dummy link name, up, holding exactly addrs as
// host addresses. A dummy link is the usual way to own a service address
// on a node (NodeLocal DNSCache's nodelocaldns link, kube-proxy IPVS's
// kube-ipvs0): the kernel treats the address as local, so a pod's packet
// to it, routed to the node, is delivered to our socket.
func ensureDevice(h *netlink.Handle, name string, addrs []netip.Addr) error {
	link, err := h.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		if err := addDummy(h, name); err != nil {
			return err
		}
		link, err = h.LinkByName(name)
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	switch link.(type) {
	case *netlink.Dummy, *netlink.Bridge:
	default:
		return fmt.Errorf("link %s is a %s, not a dummy link", name, link.Type())
	}
	want := map[netip.Addr]bool{}
	for _, a := range addrs {
		want[a] = true
		bits := 32
		if a.Is6() {
			bits = 128
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
		if a.Is6() {
			// No duplicate address detection: the address is this node's
			// alone, and a tentative address cannot be bound.
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("add %s to %s: %w", a, name, err)
		}
	}
	have, err := h.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("addresses of %s: %w", name, err)
	}
	for _, a := range have {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && !want[ip.Unmap()] && !a.IP.IsLinkLocalUnicast() {
			if err := h.AddrDel(link, &a); err != nil {
				return fmt.Errorf("remove stale %s from %s: %w", ip, name, err)
			}
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}

// addDummy adds the link as a dummy, or as a bridge without ports where
// the kernel has no dummy driver (CONFIG_DUMMY unset, as on some VM
// kernels): a portless bridge forwards nothing and holds local addresses
// just as well.
func addDummy(h *netlink.Handle, name string) error {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	err := h.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
	if errors.Is(err, unix.EOPNOTSUPP) {
		err = h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add dummy link %s: %w", name, err)
	}
	return nil
}

// removeDevice deletes the dummy link, if it is there.
func removeDevice(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}
