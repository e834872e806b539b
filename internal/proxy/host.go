package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// host does the proxy's work outside nftables: conntrack clean-up and the
// LoadBalancer address device. Its sockets belong to the network namespace
// it was made in.
type host struct {
	nl     *netlink.Handle
	device string
}

func newHost(device string) (*host, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &host{nl: h, device: device}, nil
}

func (h *host) close() { h.nl.Close() }

// flowFilter matches UDP conntrack entries of a Service port: sent to one
// of ips (any address when nodePort) on port, and, when replyFrom is set,
// answered by that endpoint.
type flowFilter struct {
	ips       []netip.Addr
	port      uint16
	nodePort  bool
	replyFrom netip.Addr
}

func (f *flowFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	if flow.Forward.Protocol != unix.IPPROTO_UDP || flow.Forward.DstPort != f.port {
		return false
	}
	if f.replyFrom.IsValid() {
		src, ok := netip.AddrFromSlice(flow.Reverse.SrcIP)
		if !ok || src.Unmap() != f.replyFrom {
			return false
		}
	}
	if f.nodePort {
		return true
	}
	dst, ok := netip.AddrFromSlice(flow.Forward.DstIP)
	return ok && slices.Contains(f.ips, dst.Unmap())
}

// clearStaleUDP deletes UDP conntrack entries that would keep sending
// packets where they no longer belong, as kube-proxy does: flows to a
// Service port that were DNATed to an endpoint now gone, and flows to a
// port that had no endpoint before (they were set up without DNAT).
func (h *host) clearStaleUDP(old, rec *record) error {
	var filters []netlink.CustomConntrackFilter
	var oldUDP []udpPort
	if old != nil {
		oldUDP = old.udp
	}
	find := func(list []udpPort, u udpPort) *udpPort {
		for i := range list {
			if list[i].port == u.port && len(list[i].ips) > 0 && len(u.ips) > 0 && list[i].ips[0] == u.ips[0] {
				return &list[i]
			}
		}
		return nil
	}
	var newUDP []udpPort
	if rec != nil {
		newUDP = rec.udp
	}
	for _, o := range oldUDP {
		n := find(newUDP, o)
		for _, ep := range o.eps {
			if n != nil && slices.Contains(n.eps, ep) {
				continue
			}
			filters = append(filters, &flowFilter{ips: o.ips, port: o.port, replyFrom: ep})
			if o.nodePort != 0 {
				filters = append(filters, &flowFilter{port: o.nodePort, nodePort: true, replyFrom: ep})
			}
		}
	}
	for _, n := range newUDP {
		o := find(oldUDP, n)
		if len(n.eps) == 0 || (o != nil && len(o.eps) > 0) {
			continue
		}
		filters = append(filters, &flowFilter{ips: n.ips, port: n.port})
		if n.nodePort != 0 {
			filters = append(filters, &flowFilter{port: n.nodePort, nodePort: true})
		}
	}
	if len(filters) == 0 {
		return nil
	}
	_, err := h.nl.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, filters...)
	return err
}

// syncLBAddrs makes the dummy device carry exactly the wanted addresses
// (as /32s) that are not already the node's own, so this node answers ARP
// for them. The device is a dummy (a bridge without ports where the kernel
// has no dummy driver), made when first needed and left in place.
func (h *host) syncLBAddrs(want map[netip.Addr]int, nodeIPs []netip.Addr) error {
	link, err := h.nl.LinkByName(h.device)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return fmt.Errorf("find %s: %w", h.device, err)
		}
		if len(want) == 0 {
			return nil
		}
		err := h.nl.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: h.device}})
		if errors.Is(err, unix.EOPNOTSUPP) {
			// A kernel without the dummy driver: a bridge without ports
			// holds local addresses just as well.
			err = h.nl.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: h.device}})
		}
		if err != nil {
			return fmt.Errorf("create %s: %w", h.device, err)
		}
		if link, err = h.nl.LinkByName(h.device); err != nil {
			return err
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := h.nl.LinkSetUp(link); err != nil {
			return fmt.Errorf("set %s up: %w", h.device, err)
		}
	}
	all, err := h.nl.AddrList(nil, unix.AF_INET)
	if err != nil {
		return err
	}
	own := map[netip.Addr]bool{}
	have := map[netip.Addr]netlink.Addr{}
	for _, a := range all {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if a.LinkIndex == link.Attrs().Index {
			have[ip] = a
		} else {
			own[ip] = true
		}
	}
	for _, ip := range nodeIPs {
		own[ip] = true
	}
	var errs []error
	for ip, a := range have {
		if want[ip] == 0 || own[ip] {
			if err := h.nl.AddrDel(link, &a); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: %w", ip, err))
			}
		}
	}
	for ip := range want {
		if _, ok := have[ip]; ok || own[ip] {
			continue
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(32, 32)}}
		if err := h.nl.AddrAdd(link, addr); err != nil {
			errs = append(errs, fmt.Errorf("add %s: %w", ip, err))
		}
	}
	return errors.Join(errs...)
}
