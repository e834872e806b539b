package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/runtime"
)

// podIfName is the pod's end of its veth, as every CNI names it.
const podIfName = "eth0"

// Setup makes (or repairs) the sandbox's network: a namespace mounted on
// NetNSPath(sandboxID) with lo up, a veth pair whose host end is on the
// bridge in hairpin mode and whose pod end is eth0 with the pod's address
// and a default route via the gateway, and DNAT rules for the hostPort
// mappings. Calling it again for the same sandbox returns the same path
// and puts back whatever is missing or different.
func (n *Network) Setup(ctx context.Context, sandboxID string, ips []string, ports []runtime.PortMapping) (string, error) {
	if err := validSandboxID(sandboxID); err != nil {
		return "", err
	}
	n.mu.Lock()
	podCIDR, gw, mtu := n.podCIDR, n.gateway, n.mtu
	n.mu.Unlock()
	if podCIDR == nil {
		return "", ErrNoPodCIDR
	}
	podIP := pickPodIP(ips, podCIDR)
	if podIP == nil {
		return "", fmt.Errorf("%w: %v (pod CIDR %s)", ErrNoPodIP, ips, podCIDR)
	}
	mappings, err := hostPorts(ports)
	if err != nil {
		return "", err
	}
	if err := n.ensureNetNSDir(); err != nil {
		return "", err
	}

	unlock := n.sandboxes.lock(sandboxID)
	defer unlock()
	path := n.NetNSPath(sandboxID)
	if !isNetNS(path) {
		if err := removeNetNS(path); err != nil { // a leftover plain file or dead mount
			return "", err
		}
		if err := createNetNS(path); err != nil {
			return "", err
		}
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer ns.Close()
	pod, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return "", fmt.Errorf("netlink handle in %s: %w", path, err)
	}
	defer pod.Close()

	if err := ensureLinkUp(pod, "lo"); err != nil {
		return "", err
	}
	hostVeth, podVeth, err := n.ensureVeth(pod, ns, vethName(sandboxID), podMAC(podIP), mtu)
	if err != nil {
		return "", err
	}
	err = n.attachHostVeth(hostVeth, mtu)
	if errors.Is(err, errNodeNetworkGone) {
		err = n.restoreNodeNetwork(ctx, podCIDR, err)
		if err == nil {
			err = n.attachHostVeth(hostVeth, mtu)
		}
	}
	if err != nil {
		return "", err
	}
	if err := configurePodVeth(pod, podVeth, &net.IPNet{IP: podIP, Mask: podCIDR.Mask}, gw, podMAC(podIP), mtu); err != nil {
		return "", err
	}
	err = n.setHostPorts(sandboxID, podIP, mappings)
	if errors.Is(err, errNodeNetworkGone) {
		err = n.restoreNodeNetwork(ctx, podCIDR, err)
		if err == nil {
			err = n.setHostPorts(sandboxID, podIP, mappings)
		}
	}
	if err != nil {
		return "", err
	}
	n.log.DebugContext(ctx, "sandbox network set up", "sandbox", sandboxID, "ip", podIP.String(), "veth", hostVeth.Attrs().Name, "hostPorts", len(mappings))
	return path, nil
}

// Teardown removes the sandbox's hostPort rules, its veth and its
// namespace file. Missing pieces are no error.
func (n *Network) Teardown(ctx context.Context, sandboxID string) error {
	if err := validSandboxID(sandboxID); err != nil {
		return err
	}
	unlock := n.sandboxes.lock(sandboxID)
	defer unlock()
	var errs []error
	if err := n.removeHostPorts(sandboxID); err != nil {
		errs = append(errs, err)
	}
	// Deleting the host end deletes the pair; doing it here rather than
	// leaving it to the namespace's end frees the name at once, even when
	// a process still holds the namespace.
	if l, err := n.host.LinkByName(vethName(sandboxID)); err == nil {
		if err := n.host.LinkDel(l); err != nil && !isNotFound(err) {
			errs = append(errs, fmt.Errorf("delete veth %s: %w", l.Attrs().Name, err))
		}
	} else if !isNotFound(err) {
		errs = append(errs, fmt.Errorf("find veth of sandbox %s: %w", sandboxID, err))
	}
	if err := removeNetNS(n.NetNSPath(sandboxID)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	n.log.DebugContext(ctx, "sandbox network torn down", "sandbox", sandboxID)
	return nil
}

// restoreNodeNetwork runs SetPodCIDR again after Setup found the bridge or
// the table gone (deleted by hand, or by another program's flush).
func (n *Network) restoreNodeNetwork(ctx context.Context, podCIDR *net.IPNet, cause error) error {
	n.log.WarnContext(ctx, "restoring the node's pod network", "reason", cause.Error())
	if err := n.SetPodCIDR(ctx, podCIDR.String()); err != nil {
		return fmt.Errorf("%w (restoring it: %w)", cause, err)
	}
	return nil
}

// vethName names the host end of a sandbox's veth from its ID, so that it
// can be found again after a restart: "veth" and 8 hex digits.
func vethName(sandboxID string) string {
	sum := sha256.Sum256([]byte(sandboxID))
	return "veth" + hex.EncodeToString(sum[:4])
}

// podMAC derives the pod's MAC address from its IP address, so that a pod
// made again with the same address (a sandbox re-created, an address
// reused) keeps the MAC its neighbours have cached, and nobody needs a
// gratuitous ARP to find it.
func podMAC(ip net.IP) net.HardwareAddr {
	return bridgeMAC(ip)
}

// pickPodIP returns the first IPv4 address of ips inside podCIDR.
func pickPodIP(ips []string, podCIDR *net.IPNet) net.IP {
	for _, s := range ips {
		ip := net.ParseIP(s).To4()
		if ip != nil && podCIDR.Contains(ip) {
			return ip
		}
	}
	return nil
}

// ensureVeth returns the sandbox's veth pair, making it when either end is
// missing or the two ends are not each other's peer (a namespace made
// anew, a half-finished earlier Setup).
func (n *Network) ensureVeth(pod *netlink.Handle, ns netns.NsHandle, hostName string, mac net.HardwareAddr, mtu int) (host, peer netlink.Link, err error) {
	host, hostErr := n.host.LinkByName(hostName)
	peer, podErr := pod.LinkByName(podIfName)
	if hostErr == nil && podErr == nil && host.Type() == "veth" && peer.Type() == "veth" &&
		host.Attrs().ParentIndex == peer.Attrs().Index && peer.Attrs().ParentIndex == host.Attrs().Index {
		return host, peer, nil
	}
	if hostErr != nil && !isNotFound(hostErr) {
		return nil, nil, fmt.Errorf("find %s: %w", hostName, hostErr)
	}
	if podErr != nil && !isNotFound(podErr) {
		return nil, nil, fmt.Errorf("find %s in the sandbox: %w", podIfName, podErr)
	}
	if hostErr == nil {
		if err := n.host.LinkDel(host); err != nil && !isNotFound(err) {
			return nil, nil, fmt.Errorf("delete stale %s: %w", hostName, err)
		}
	}
	if podErr == nil {
		if err := pod.LinkDel(peer); err != nil && !isNotFound(err) {
			return nil, nil, fmt.Errorf("delete stale %s in the sandbox: %w", podIfName, err)
		}
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name = hostName
	attrs.MTU = mtu
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: podIfName, PeerNamespace: netlink.NsFd(ns), PeerMTU: uint32(mtu), PeerHardwareAddr: mac}
	if err := n.host.LinkAdd(veth); err != nil {
		return nil, nil, fmt.Errorf("add veth %s: %w", hostName, err)
	}
	if host, err = n.host.LinkByName(hostName); err != nil {
		return nil, nil, fmt.Errorf("find new %s: %w", hostName, err)
	}
	if peer, err = pod.LinkByName(podIfName); err != nil {
		return nil, nil, fmt.Errorf("find new %s in the sandbox: %w", podIfName, err)
	}
	return host, peer, nil
}

// attachHostVeth puts the host end on the bridge, in hairpin mode (a pod
// reaching a Service backed by itself gets its packets back through the
// port they came in by), and brings it up.
func (n *Network) attachHostVeth(host netlink.Link, mtu int) error {
	name := host.Attrs().Name
	br, err := n.host.LinkByName(n.cfg.Bridge)
	if isNotFound(err) {
		return fmt.Errorf("%w: bridge %s is missing", errNodeNetworkGone, n.cfg.Bridge)
	}
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", n.cfg.Bridge, err)
	}
	if host.Attrs().MTU != mtu {
		if err := n.host.LinkSetMTU(host, mtu); err != nil {
			return fmt.Errorf("set %s MTU: %w", name, err)
		}
	}
	if host.Attrs().MasterIndex != br.Attrs().Index {
		if err := n.host.LinkSetMasterByIndex(host, br.Attrs().Index); err != nil {
			return fmt.Errorf("attach %s to %s: %w", name, n.cfg.Bridge, err)
		}
	}
	if err := n.host.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("hairpin mode on %s: %w", name, err)
	}
	if host.Attrs().Flags&net.FlagUp == 0 {
		if err := n.host.LinkSetUp(host); err != nil {
			return fmt.Errorf("bring %s up: %w", name, err)
		}
	}
	return nil
}

// configurePodVeth leaves eth0 with exactly addr, up, and the default
// route via gw.
func configurePodVeth(pod *netlink.Handle, eth0 netlink.Link, addr *net.IPNet, gw net.IP, mac net.HardwareAddr, mtu int) error {
	if eth0.Attrs().HardwareAddr.String() != mac.String() {
		if err := pod.LinkSetHardwareAddr(eth0, mac); err != nil {
			return fmt.Errorf("set %s MAC: %w", podIfName, err)
		}
	}
	if eth0.Attrs().MTU != mtu {
		if err := pod.LinkSetMTU(eth0, mtu); err != nil {
			return fmt.Errorf("set %s MTU: %w", podIfName, err)
		}
	}
	addrs, err := pod.AddrList(eth0, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list %s addresses: %w", podIfName, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() != addr.String() {
			if err := pod.AddrDel(eth0, &a); err != nil && !isNotFound(err) && !isAddrNotAvail(err) {
				return fmt.Errorf("remove %s from %s: %w", a.IPNet, podIfName, err)
			}
		}
	}
	if err := pod.AddrReplace(eth0, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("address %s on %s: %w", addr, podIfName, err)
	}
	if eth0.Attrs().Flags&net.FlagUp == 0 {
		if err := pod.LinkSetUp(eth0); err != nil {
			return fmt.Errorf("bring %s up: %w", podIfName, err)
		}
	}
	route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Dst: &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}, Gw: gw}
	if err := pod.RouteReplace(route); err != nil {
		return fmt.Errorf("default route via %s: %w", gw, err)
	}
	return nil
}

func ensureLinkUp(h *netlink.Handle, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %s: %w", name, err)
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}
