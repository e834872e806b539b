package apiserver

// Service allocation, as upstream's service REST storage does it
// (pkg/registry/core/service/storage/alloc.go), over the in-memory
// allocators of allocator.go.
//
// A write takes what the new state needs before it is stored and gives
// it back if the write does not happen (the undo of the admit hook);
// what the old state held and the new one no longer uses is released only
// once the write is stored (the written hook), so a failed update never
// loses an address. A delete releases everything the Service held. At
// start the allocators are rebuilt from the stored Services (repair).
//
//   - Cluster IPs: every type but ExternalName gets one, unless headless
//     ("None"). A requested IP is taken if free and in range; otherwise a
//     random free one, above the low band of the range kept for requests
//     (upstream's static subrange). mini's service CIDR is single-stack, so
//     a Service holds at most one IP (validation refuses the rest).
//   - Node ports: NodePort and LoadBalancer services (LoadBalancer only
//     with allocateLoadBalancerNodePorts) get one per port; ports asked for
//     by number are honoured. On create, ports with the same port number
//     (53/TCP and 53/UDP) share one node port.
//   - Health-check node port: a LoadBalancer with externalTrafficPolicy
//     Local gets one.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var serviceGroupKind = schema.GroupKind{Kind: "Service"}

// serviceAllocator holds the cluster IPs and node ports of all Services.
type serviceAllocator struct {
	ips   *ipRange
	ports *portRange
	// ipStatic and portStatic are the low bands of the ranges that random
	// picks avoid while the rest has room, so that addresses and ports
	// asked for by number (the DNS service's 10.43.0.10) stay free.
	ipStatic, portStatic int
}

func newServiceAllocator(serviceCIDR, nodePortRange string) (*serviceAllocator, error) {
	ips, err := newIPRange(serviceCIDR)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", serviceCIDR, err)
	}
	first, last, err := parseNodePortRange(nodePortRange)
	if err != nil {
		return nil, err
	}
	ports := newPortRange(first, last)
	return &serviceAllocator{
		ips: ips, ports: ports,
		ipStatic:   staticBand(1<<min(ips.prefix.Addr().BitLen()-ips.prefix.Bits(), 30), 16, 256),
		portStatic: staticBand(last-first+1, 32, 128),
	}, nil
}

// staticBand is upstream's min(max(16, size/step), most), or 0 for a
// range of 16 or fewer.
func staticBand(size, step, most int) int {
	const least = 16
	if size <= least {
		return 0
	}
	return min(max(least, size/step), most)
}

// parseNodePortRange reads "30000-32767", "30000+2767" or "30000", as
// upstream's --service-node-port-range.
func parseNodePortRange(s string) (first, last int, err error) {
	s = strings.TrimSpace(s)
	var errFirst, errLast error
	if a, b, ok := strings.Cut(s, "-"); ok {
		first, errFirst = strconv.Atoi(a)
		last, errLast = strconv.Atoi(b)
	} else if a, b, ok := strings.Cut(s, "+"); ok {
		var n int
		first, errFirst = strconv.Atoi(a)
		n, errLast = strconv.Atoi(b)
		last = first + n
	} else {
		first, errFirst = strconv.Atoi(s)
		last = first
	}
	if errFirst != nil || errLast != nil || first < 1 || last > 65535 || last < first {
		return 0, 0, fmt.Errorf("invalid node port range %q: want FIRST-LAST within 1-65535", s)
	}
	return first, last, nil
}

// allocation is what one write took: given back if the write fails.
type allocation struct {
	ips   []netip.Addr
	ports []int
}

// undo releases what a write took.
func (a *serviceAllocator) undo(al allocation) {
	for _, ip := range al.ips {
		a.ips.release(ip)
	}
	for _, p := range al.ports {
		a.ports.release(p)
	}
}

// hasClusterIP: every type but ExternalName, unless headless.
func hasClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName &&
		!(len(svc.Spec.ClusterIPs) > 0 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone)
}

// usesNodePorts: NodePort and LoadBalancer services.
func usesNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

// allocatesNodePorts: whether ports without a node port get one.
func allocatesNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// needsHealthCheckPort: a LoadBalancer keeping traffic on the node it
// arrives at.
func needsHealthCheckPort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// nodePortsOf lists the node ports in spec.ports.
func nodePortsOf(svc *corev1.Service) []int {
	var out []int
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out = append(out, int(p.NodePort))
		}
	}
	return out
}

// allocateCreate fills in a new Service's cluster IP, node ports and
// health-check node port.
func (a *serviceAllocator) allocateCreate(svc *corev1.Service) (allocation, error) {
	var al allocation
	if hasClusterIP(svc) {
		if err := a.allocateClusterIP(svc, &al); err != nil {
			a.undo(al)
			return allocation{}, err
		}
	}
	if usesNodePorts(svc) {
		if err := a.createNodePorts(svc, &al); err != nil {
			a.undo(al)
			return allocation{}, err
		}
	}
	if needsHealthCheckPort(svc) {
		if err := a.allocateHealthCheck(svc, &al); err != nil {
			a.undo(al)
			return allocation{}, apierrors.NewInternalError(err)
		}
	}
	return al, nil
}

// allocateUpdate takes what an updated Service needs and its old state
// did not hold: a cluster IP when it stops being ExternalName, node ports
// when it becomes (or stays) NodePort or LoadBalancer, a health-check
// port when it starts needing one.
func (a *serviceAllocator) allocateUpdate(svc, old *corev1.Service) (allocation, error) {
	var al allocation
	if old.Spec.Type == corev1.ServiceTypeExternalName && hasClusterIP(svc) {
		if err := a.allocateClusterIP(svc, &al); err != nil {
			a.undo(al)
			return allocation{}, err
		}
	}
	if usesNodePorts(svc) {
		if err := a.updateNodePorts(svc, old, &al); err != nil {
			a.undo(al)
			return allocation{}, err
		}
	}
	if !needsHealthCheckPort(old) && needsHealthCheckPort(svc) {
		if err := a.allocateHealthCheck(svc, &al); err != nil {
			a.undo(al)
			return allocation{}, apierrors.NewInternalError(err)
		}
	}
	return al, nil
}

// releaseUnused gives back, once an update is stored, what the old state
// held and the new one does not use.
func (a *serviceAllocator) releaseUnused(svc, old *corev1.Service) {
	if hasClusterIP(old) {
		for _, ip := range old.Spec.ClusterIPs {
			if !slices.Contains(svc.Spec.ClusterIPs, ip) {
				a.releaseIP(ip)
			}
		}
	}
	if usesNodePorts(old) {
		switch {
		case svc.Spec.Type == corev1.ServiceTypeClusterIP || svc.Spec.Type == corev1.ServiceTypeExternalName:
			for _, p := range nodePortsOf(old) {
				a.ports.release(p)
			}
		case usesNodePorts(svc):
			kept := nodePortsOf(svc)
			for _, p := range nodePortsOf(old) {
				if !slices.Contains(kept, p) {
					a.ports.release(p)
				}
			}
		}
	}
	if needsHealthCheckPort(old) && !needsHealthCheckPort(svc) && old.Spec.HealthCheckNodePort != 0 {
		a.ports.release(int(old.Spec.HealthCheckNodePort))
	}
}

// releaseAll gives back everything a deleted Service held.
func (a *serviceAllocator) releaseAll(svc *corev1.Service) {
	ips, ports := held(svc)
	for _, ip := range ips {
		a.releaseIP(ip)
	}
	for _, p := range ports {
		a.ports.release(p)
	}
}

// held is what a stored Service holds: its cluster IPs, its node ports
// and its health-check node port.
func held(svc *corev1.Service) (ips []string, ports []int) {
	if hasClusterIP(svc) {
		ips = svc.Spec.ClusterIPs
	}
	ports = nodePortsOf(svc)
	if needsHealthCheckPort(svc) && svc.Spec.HealthCheckNodePort != 0 {
		ports = append(ports, int(svc.Spec.HealthCheckNodePort))
	}
	return ips, ports
}

// restore marks what a stored Service holds as taken, for the repair at
// start; it returns what could not be taken (out of range, or held by an
// earlier Service too), as upstream's repair controllers report it.
func (a *serviceAllocator) restore(svc *corev1.Service) []error {
	var problems []error
	ips, ports := held(svc)
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err == nil {
			err = a.takeIP(ip)
		}
		if err != nil {
			problems = append(problems, fmt.Errorf("cluster IP %s: %w", s, err))
		}
	}
	for _, p := range ports {
		if _, err := a.ports.allocate(p); err != nil {
			problems = append(problems, fmt.Errorf("node port %d: %w", p, err))
		}
	}
	return problems
}

// takeIP takes one address, with upstream's ipallocator errors.
func (a *serviceAllocator) takeIP(ip netip.Addr) error {
	off, ok := a.ips.offset(ip)
	if !ok {
		return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, a.ips.prefix)
	}
	if !a.ips.alloc.take(off) {
		return errIPAllocated
	}
	return nil
}

// errIPAllocated is upstream's ipallocator.ErrAllocated.
var errIPAllocated = errors.New("provided IP is already allocated")

func (a *serviceAllocator) releaseIP(s string) {
	if ip, err := netip.ParseAddr(s); err == nil {
		a.ips.release(ip)
	}
}

// allocateClusterIP takes the requested cluster IP or a random one and
// sets clusterIP and clusterIPs.
func (a *serviceAllocator) allocateClusterIP(svc *corev1.Service, al *allocation) error {
	var requested string
	if len(svc.Spec.ClusterIPs) > 0 {
		requested = svc.Spec.ClusterIPs[0]
	}
	var ip netip.Addr
	if requested == "" {
		off, err := takeRandom(a.ips.alloc, a.ipStatic)
		if err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to allocate a serviceIP: %v", err))
		}
		ip = a.ips.addr(off)
	} else {
		var err error
		if ip, err = netip.ParseAddr(requested); err != nil {
			return apierrors.NewInternalError(fmt.Errorf("failed to parse service IP %q", requested))
		}
		if err = a.takeIP(ip); err != nil {
			return apierrors.NewInvalid(serviceGroupKind, svc.Name, field.ErrorList{field.Invalid(
				field.NewPath("spec", "clusterIPs"), svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: %v", requested, err))})
		}
	}
	al.ips = append(al.ips, ip)
	svc.Spec.ClusterIP = ip.String()
	if len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{ip.String()}
	} else {
		svc.Spec.ClusterIPs[0] = ip.String()
	}
	return nil
}

// createNodePorts is upstream's initNodePorts.
func (a *serviceAllocator) createNodePorts(svc *corev1.Service, al *allocation) error {
	byPort := map[int32]int32{} // service port -> node port given to it
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.NodePort == 0 && !allocatesNodePorts(svc) {
			continue // honour requests only
		}
		given := byPort[p.Port]
		switch {
		case given == 0:
			if want := requestedNodePort(p.Port, svc.Spec.Ports); want != 0 {
				if err := a.takePort(svc, i, want, al); err != nil {
					return err
				}
				p.NodePort = want
			} else {
				port, err := a.nextPort(al)
				if err != nil {
					return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %v", err))
				}
				p.NodePort = port
			}
			byPort[p.Port] = p.NodePort
		case p.NodePort == 0:
			p.NodePort = given
		case p.NodePort != given:
			if err := a.takePort(svc, i, p.NodePort, al); err != nil {
				return err
			}
		}
	}
	return nil
}

// requestedNodePort is the node port some entry with this port number
// asks for, or 0.
func requestedNodePort(port int32, ports []corev1.ServicePort) int32 {
	for _, p := range ports {
		if p.Port == port && p.NodePort != 0 {
			return p.NodePort
		}
	}
	return 0
}

// updateNodePorts is upstream's updateNodePorts, less the releases (see
// releaseUnused).
func (a *serviceAllocator) updateNodePorts(svc, old *corev1.Service, al *allocation) error {
	had := nodePortsOf(old)
	taken := map[int32]bool{}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		switch {
		case p.NodePort == 0 && !allocatesNodePorts(svc):
		case p.NodePort == 0:
			port, err := a.nextPort(al)
			if err != nil {
				return apierrors.NewInternalError(fmt.Errorf("failed to allocate a nodePort: %v", err))
			}
			p.NodePort = port
		case !slices.Contains(had, int(p.NodePort)) && !taken[p.NodePort]:
			if err := a.takePort(svc, i, p.NodePort, al); err != nil {
				return err
			}
			taken[p.NodePort] = true
		}
	}
	return nil
}

// allocateHealthCheck takes the requested health-check node port or a
// random one.
func (a *serviceAllocator) allocateHealthCheck(svc *corev1.Service, al *allocation) error {
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if _, err := a.ports.allocate(int(hc)); err != nil {
			return fmt.Errorf("failed to allocate requested HealthCheck NodePort %v: %v", hc, err)
		}
		al.ports = append(al.ports, int(hc))
		return nil
	}
	port, err := a.nextPort(al)
	if err != nil {
		return fmt.Errorf("failed to allocate a HealthCheck NodePort %v: %v", port, err)
	}
	svc.Spec.HealthCheckNodePort = port
	return nil
}

// takePort takes a node port asked for by spec.ports[i].
func (a *serviceAllocator) takePort(svc *corev1.Service, i int, port int32, al *allocation) error {
	if _, err := a.ports.allocate(int(port)); err != nil {
		return apierrors.NewInvalid(serviceGroupKind, svc.Name, field.ErrorList{field.Invalid(
			field.NewPath("spec", "ports").Index(i).Child("nodePort"), port, err.Error())})
	}
	al.ports = append(al.ports, int(port))
	return nil
}

// nextPort takes a random free node port.
func (a *serviceAllocator) nextPort(al *allocation) (int32, error) {
	off, err := takeRandom(a.ports.alloc, a.portStatic)
	if err != nil {
		return 0, err
	}
	port := a.ports.base + off
	al.ports = append(al.ports, port)
	return int32(port), nil
}

// takeRandom takes a random free offset of al, from above the static band
// while there is room there, as upstream's random scan with offset does.
func takeRandom(al *allocator, static int) (int, error) {
	if static <= 0 || static >= al.size {
		return al.next()
	}
	for _, band := range [][2]int{{static, al.size}, {0, static}} {
		n := band[1] - band[0]
		start := rand.IntN(n)
		for k := range n {
			if i := band[0] + (start+k)%n; al.take(i) {
				return i, nil
			}
		}
	}
	return 0, errRangeFull
}
