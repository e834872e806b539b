package overlay

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// encapOverhead is what VXLAN over IPv4 adds to a frame: outer IP (20),
// UDP (8), VXLAN (8) and the inner Ethernet header (14).
const encapOverhead = 50

// ensureVXLAN makes the VXLAN device match the configuration and returns
// it. An existing device that matches is kept as it is, MAC included; one
// that does not (another VNI, port, source or underlay) is made again,
// with mac if that is a MAC (the one the Node's annotation already tells
// the other nodes).
func (o *Overlay) ensureVXLAN(under netlink.Link, podCIDR netip.Prefix, mac net.HardwareAddr) (*netlink.Vxlan, error) {
	h, name := o.h, o.cfg.Device
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name, MTU: under.Attrs().MTU - encapOverhead, HardwareAddr: mac},
		VxlanId:      o.cfg.VNI,
		VtepDevIndex: under.Attrs().Index,
		SrcAddr:      o.cfg.PublicIP.AsSlice(),
		Port:         o.cfg.Port,
		Learning:     false,
	}
	link, err := h.LinkByName(name)
	switch {
	case err == nil:
		if vx, ok := link.(*netlink.Vxlan); ok && compatible(vx, want) {
			break
		}
		o.log.Info("replacing incompatible device", "device", name, "type", link.Type())
		if err := h.LinkDel(link); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("delete %s: %w", name, err)
		}
		link = nil
	case isNotFound(err):
		link = nil
	default:
		return nil, fmt.Errorf("find %s: %w", name, err)
	}
	if link == nil {
		if want.HardwareAddr == nil {
			// Chosen here rather than by the kernel, so that udev's
			// MACAddressPolicy cannot change it after we read it (flannel
			// does the same).
			if want.HardwareAddr, err = randomMAC(); err != nil {
				return nil, err
			}
		}
		if err := h.LinkAdd(want); err != nil {
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
		o.log.Info("created device", "device", name, "vni", o.cfg.VNI, "port", o.cfg.Port, "underlay", under.Attrs().Name)
		if link, err = h.LinkByName(name); err != nil {
			return nil, fmt.Errorf("find %s: %w", name, err)
		}
	}
	vx, ok := link.(*netlink.Vxlan)
	if !ok {
		return nil, fmt.Errorf("%s is a %s, not a vxlan device", name, link.Type())
	}
	if vx.MTU != want.MTU {
		if err := h.LinkSetMTU(vx, want.MTU); err != nil {
			return nil, fmt.Errorf("set %s mtu %d: %w", name, want.MTU, err)
		}
	}
	if err := o.ensureOnlyAddr(vx, netip.PrefixFrom(podCIDR.Addr(), 32)); err != nil {
		return nil, err
	}
	if vx.Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(vx); err != nil {
			return nil, fmt.Errorf("set %s up: %w", name, err)
		}
	}
	return vx, nil
}

// compatible reports whether have can carry the overlay as want
// describes it; MTU and addresses are fixed in place.
func compatible(have, want *netlink.Vxlan) bool {
	return have.VxlanId == want.VxlanId && have.VtepDevIndex == want.VtepDevIndex &&
		have.SrcAddr.Equal(want.SrcAddr) && have.Port == want.Port && !have.Learning
}

// ensureOnlyAddr leaves addr as the link's only IPv4 address (the pod
// CIDR may have changed since the device was made).
func (o *Overlay) ensureOnlyAddr(link netlink.Link, addr netip.Prefix) error {
	addrs, err := o.h.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list %s addresses: %w", link.Attrs().Name, err)
	}
	found := false
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && p == addr {
			found = true
			continue
		}
		if err := o.h.AddrDel(link, &a); err != nil && !isNotFound(err) {
			return fmt.Errorf("delete %s from %s: %w", a.IPNet, link.Attrs().Name, err)
		}
	}
	if found {
		return nil
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: addr.Addr().AsSlice(), Mask: net.CIDRMask(addr.Bits(), 32)}}
	if err := o.h.AddrAdd(link, a); err != nil {
		return fmt.Errorf("add %s to %s: %w", addr, link.Attrs().Name, err)
	}
	return nil
}

// deleteDevice removes the VXLAN device, and with it every route,
// neighbour and FDB entry on it.
func (o *Overlay) deleteDevice() error {
	link, err := o.h.LinkByName(o.cfg.Device)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %s: %w", o.cfg.Device, err)
	}
	if _, ok := link.(*netlink.Vxlan); !ok {
		// Not ours: someone else named a device so.
		o.log.Warn("not deleting a device that is not vxlan", "device", o.cfg.Device, "type", link.Type())
		return nil
	}
	if err := o.h.LinkDel(link); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", o.cfg.Device, err)
	}
	o.log.Info("deleted device", "device", o.cfg.Device)
	return nil
}

// randomMAC returns a random unicast, locally administered MAC.
func randomMAC() (net.HardwareAddr, error) {
	mac := make(net.HardwareAddr, 6)
	if _, err := rand.Read(mac); err != nil {
		return nil, fmt.Errorf("random mac: %w", err)
	}
	mac[0] = mac[0]&^0x01 | 0x02
	return mac, nil
}
