package endpoints

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/controller/endpointslice/endpointutil"
)

// desiredSubsets computes a service's subsets from its pods: one address
// per pod (of the service's primary IP family), ready or not, for each
// service port resolved on that pod; then repacked so that addresses
// sharing the same ports share a subset.
func desiredSubsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	var subsets []corev1.EndpointSubset
	for _, pod := range pods {
		if !endpointutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		addr, ok := podAddress(svc, pod)
		if !ok {
			// A pod without an IP of the service's family (a single-stack
			// node in a dual-stack cluster) cannot serve it.
			continue
		}
		ready := svc.Spec.PublishNotReadyAddresses || endpointutil.IsPodReady(pod)
		if len(svc.Spec.Ports) == 0 {
			// Only a headless service may have no ports; it still lists
			// its pods (for DNS).
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				subsets = append(subsets, subset(addr, nil, ready))
			}
			continue
		}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, err := endpointutil.FindPort(pod, sp)
			if err != nil {
				// The pod does not serve this named port.
				continue
			}
			subsets = append(subsets, subset(addr, &corev1.EndpointPort{
				Name:        sp.Name,
				Port:        port,
				Protocol:    sp.Protocol,
				AppProtocol: sp.AppProtocol,
			}, ready))
		}
	}
	return repack(subsets)
}

func subset(addr corev1.EndpointAddress, port *corev1.EndpointPort, ready bool) corev1.EndpointSubset {
	ss := corev1.EndpointSubset{Ports: []corev1.EndpointPort{}}
	if port != nil {
		ss.Ports = append(ss.Ports, *port)
	}
	if ready {
		ss.Addresses = []corev1.EndpointAddress{addr}
	} else {
		ss.NotReadyAddresses = []corev1.EndpointAddress{addr}
	}
	return ss
}

// podAddress is the pod's address for svc: its first IP of the service's
// primary family (from spec.ipFamilies, else the cluster IP's, else, for
// a headless service, the pod's primary IP's).
func podAddress(svc *corev1.Service, pod *corev1.Pod) (corev1.EndpointAddress, bool) {
	ips := endpointutil.PodIPs(pod)
	wantV6 := false
	switch {
	case len(svc.Spec.IPFamilies) > 0:
		wantV6 = svc.Spec.IPFamilies[0] == corev1.IPv6Protocol
	case endpointutil.IsServiceIPSet(svc):
		wantV6 = isIPv6(svc.Spec.ClusterIP)
	case len(ips) > 0:
		wantV6 = isIPv6(ips[0])
	}
	for _, ip := range ips {
		if isIPv6(ip) != wantV6 {
			continue
		}
		addr := corev1.EndpointAddress{
			IP: ip,
			TargetRef: &corev1.ObjectReference{
				Kind:      "Pod",
				Namespace: pod.Namespace,
				Name:      pod.Name,
				UID:       pod.UID,
			},
		}
		if pod.Spec.NodeName != "" {
			node := pod.Spec.NodeName
			addr.NodeName = &node
		}
		if endpointutil.ShouldSetHostname(pod, svc) {
			addr.Hostname = pod.Spec.Hostname
		}
		return addr, true
	}
	return corev1.EndpointAddress{}, false
}

func isIPv6(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.Is4In6()
}

// addressKey tells addresses apart: the same IP may belong to two pods
// for a moment (one going, one coming).
type addressKey struct {
	ip  string
	uid types.UID
}

// noPort stands for "no ports" in repack, as upstream's sentinel.
var noPort = corev1.EndpointPort{Port: -1}

// repack is upstream's RepackSubsets: it groups the addresses by the set
// of ports they serve, so that N pods serving the same ports form one
// subset, and pods whose named port resolves to another number form their
// own. An address not ready on some port is not ready on it, whatever
// another subset said. The result is sorted so equal inputs give equal
// output.
func repack(in []corev1.EndpointSubset) []corev1.EndpointSubset {
	addrs := map[addressKey]*corev1.EndpointAddress{}
	// For each port, its addresses and whether each is ready there.
	byPort := map[corev1.EndpointPort]map[addressKey]bool{}
	add := func(a *corev1.EndpointAddress, port corev1.EndpointPort, ready bool) {
		k := addressKey{ip: a.IP}
		if a.TargetRef != nil {
			k.uid = a.TargetRef.UID
		}
		if _, ok := addrs[k]; !ok {
			cp := *a
			addrs[k] = &cp
		}
		set := byPort[port]
		if set == nil {
			set = map[addressKey]bool{}
			byPort[port] = set
		}
		if wasReady, seen := set[k]; !seen || wasReady {
			set[k] = ready
		}
	}
	for i := range in {
		ss := &in[i]
		ports := ss.Ports
		if len(ports) == 0 {
			ports = []corev1.EndpointPort{noPort}
		}
		for _, p := range ports {
			for j := range ss.Addresses {
				add(&ss.Addresses[j], p, true)
			}
			for j := range ss.NotReadyAddresses {
				add(&ss.NotReadyAddresses[j], p, false)
			}
		}
	}

	// Group the ports by their exact address set (with readiness).
	type group struct {
		set   map[addressKey]bool
		ports []corev1.EndpointPort
	}
	groups := map[string]*group{}
	for port, set := range byPort {
		id := setID(set)
		g := groups[id]
		if g == nil {
			g = &group{set: set}
			groups[id] = g
		}
		if port != noPort {
			g.ports = append(g.ports, port)
		}
	}

	out := make([]corev1.EndpointSubset, 0, len(groups))
	for _, g := range groups {
		ss := corev1.EndpointSubset{Ports: g.ports}
		for k, ready := range g.set {
			if ready {
				ss.Addresses = append(ss.Addresses, *addrs[k])
			} else {
				ss.NotReadyAddresses = append(ss.NotReadyAddresses, *addrs[k])
			}
		}
		sortSubset(&ss)
		out = append(out, ss)
	}
	slices.SortFunc(out, compareSubsets)
	return out
}

// setID names an address set with readiness, to group ports by it.
func setID(set map[addressKey]bool) string {
	parts := make([]string, 0, len(set))
	for k, ready := range set {
		r := "0"
		if ready {
			r = "1"
		}
		parts = append(parts, k.ip+"/"+string(k.uid)+"/"+r)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	if c := compareIPs(a.IP, b.IP); c != 0 {
		return c
	}
	return cmp.Compare(uidOf(a), uidOf(b))
}

func uidOf(a corev1.EndpointAddress) types.UID {
	if a.TargetRef == nil {
		return ""
	}
	return a.TargetRef.UID
}

// compareIPs orders IPs numerically (10.0.0.9 before 10.0.0.10), as a
// reader of kubectl get endpoints expects.
func compareIPs(a, b string) int {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	return pa.Compare(pb)
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

func sortSubset(ss *corev1.EndpointSubset) {
	slices.SortFunc(ss.Addresses, compareAddresses)
	slices.SortFunc(ss.NotReadyAddresses, compareAddresses)
	slices.SortFunc(ss.Ports, comparePorts)
}

// compareSubsets orders subsets by their ports, then by their first
// address.
func compareSubsets(a, b corev1.EndpointSubset) int {
	if c := slices.CompareFunc(a.Ports, b.Ports, comparePorts); c != 0 {
		return c
	}
	first := func(ss corev1.EndpointSubset) corev1.EndpointAddress {
		if len(ss.Addresses) > 0 {
			return ss.Addresses[0]
		}
		if len(ss.NotReadyAddresses) > 0 {
			return ss.NotReadyAddresses[0]
		}
		return corev1.EndpointAddress{}
	}
	return compareAddresses(first(a), first(b))
}
