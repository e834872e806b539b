package network

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/netnsutil"
)

// SetPodCIDR brings up the bridge with the gateway address (the first host
// address) of the node's pod CIDR, turns on IPv4 forwarding and installs
// the table's static chains. It is idempotent; another CIDR re-addresses
// the bridge and the masquerade rules. hostPort rules of existing
// sandboxes are kept.
func (n *Network) SetPodCIDR(ctx context.Context, cidr string) error {
	ip, podCIDR, err := net.ParseCIDR(cidr)
	if err != nil || ip.To4() == nil {
		return fmt.Errorf("pod CIDR %q: not an IPv4 CIDR", cidr)
	}
	if ones, bits := podCIDR.Mask.Size(); bits-ones < 2 {
		return fmt.Errorf("pod CIDR %s: too small for a gateway and a pod", cidr)
	}
	if !cidrContains(n.clusterCIDR, podCIDR) {
		return fmt.Errorf("pod CIDR %s is not inside the cluster CIDR %s", podCIDR, n.clusterCIDR)
	}
	gw := nextIP(podCIDR.IP.To4())

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.mtu == 0 {
		n.mtu = n.cfg.MTU
		if n.mtu == 0 {
			n.mtu = n.defaultRouteMTU()
		}
	}
	br, err := n.ensureBridge(gw, podCIDR)
	if err != nil {
		return err
	}
	err = netnsutil.Do(n.hostNS, func() error {
		if err := ensureSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		// Lets the node reach hostPorts on 127.0.0.1 (see doc.go).
		return ensureSysctl("net/ipv4/conf/"+br.Attrs().Name+"/route_localnet", "1")
	})
	if err != nil {
		return err
	}
	if err := n.ensureTable(podCIDR); err != nil {
		return err
	}
	if n.podCIDR == nil || n.podCIDR.String() != podCIDR.String() {
		n.log.InfoContext(ctx, "pod network ready", "podCIDR", podCIDR.String(), "bridge", n.cfg.Bridge, "gateway", gw.String(), "mtu", n.mtu)
	}
	n.podCIDR, n.gateway = podCIDR, gw
	return nil
}

// ensureBridge makes the bridge, with a MAC address of its own so that it
// does not change with the lowest port's MAC as pods come and go, and
// leaves exactly gw/prefix as its IPv4 address.
func (n *Network) ensureBridge(gw net.IP, podCIDR *net.IPNet) (netlink.Link, error) {
	mac := bridgeMAC(gw)
	link, err := n.host.LinkByName(n.cfg.Bridge)
	if isNotFound(err) {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = n.cfg.Bridge
		attrs.MTU = n.mtu
		attrs.HardwareAddr = mac
		if err := n.host.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !isExist(err) {
			return nil, fmt.Errorf("add bridge %s: %w", n.cfg.Bridge, err)
		}
		link, err = n.host.LinkByName(n.cfg.Bridge)
	}
	if err != nil {
		return nil, fmt.Errorf("find bridge %s: %w", n.cfg.Bridge, err)
	}
	if _, ok := link.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("link %s is a %s, not a bridge", n.cfg.Bridge, link.Type())
	}
	if link.Attrs().HardwareAddr.String() != mac.String() {
		if err := n.host.LinkSetHardwareAddr(link, mac); err != nil {
			return nil, fmt.Errorf("set %s MAC: %w", n.cfg.Bridge, err)
		}
	}
	if link.Attrs().MTU != n.mtu {
		if err := n.host.LinkSetMTU(link, n.mtu); err != nil {
			return nil, fmt.Errorf("set %s MTU: %w", n.cfg.Bridge, err)
		}
	}
	want := &netlink.Addr{IPNet: &net.IPNet{IP: gw, Mask: podCIDR.Mask}}
	addrs, err := n.host.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list %s addresses: %w", n.cfg.Bridge, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != want.IPNet.String() {
			if err := n.host.AddrDel(link, &a); err != nil && !isNotFound(err) && !isAddrNotAvail(err) {
				return nil, fmt.Errorf("remove %s from %s: %w", a.IPNet, n.cfg.Bridge, err)
			}
		}
	}
	if err := n.host.AddrReplace(link, want); err != nil {
		return nil, fmt.Errorf("address %s on %s: %w", want.IPNet, n.cfg.Bridge, err)
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := n.host.LinkSetUp(link); err != nil {
			return nil, fmt.Errorf("bring %s up: %w", n.cfg.Bridge, err)
		}
	}
	return link, nil
}

// defaultRouteMTU is the MTU of the link the IPv4 default route leaves by,
// so that pod packets fit the node's own path out.
func (n *Network) defaultRouteMTU() int {
	routes, err := n.host.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return defaultMTU
	}
	for _, r := range routes {
		if r.Dst != nil {
			if ones, _ := r.Dst.Mask.Size(); ones != 0 {
				continue
			}
		}
		if r.LinkIndex == 0 {
			continue
		}
		if l, err := n.host.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 {
			return l.Attrs().MTU
		}
	}
	return defaultMTU
}

// bridgeMAC derives a stable, locally administered unicast MAC from an
// IPv4 address, here the gateway's (0a:58 and the address, as
// ovn-kubernetes does): unique wherever the address is.
func bridgeMAC(addr net.IP) net.HardwareAddr {
	ip := addr.To4()
	return net.HardwareAddr{0x0a, 0x58, ip[0], ip[1], ip[2], ip[3]}
}

func nextIP(ip net.IP) net.IP {
	out := make(net.IP, len(ip))
	copy(out, ip)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]++
		if out[i] != 0 {
			break
		}
	}
	return out
}

// cidrContains reports whether inner lies wholly inside outer.
func cidrContains(outer, inner *net.IPNet) bool {
	outerOnes, _ := outer.Mask.Size()
	innerOnes, _ := inner.Mask.Size()
	return outerOnes <= innerOnes && outer.Contains(inner.IP)
}

func isExist(err error) bool { return err != nil && errors.Is(err, unix.EEXIST) }

func isAddrNotAvail(err error) bool { return err != nil && errors.Is(err, unix.EADDRNOTAVAIL) }
