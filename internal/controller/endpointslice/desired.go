package endpointslice

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	"mini.dev/mini/internal/controller/endpointslice/endpointutil"
)

// podEndpoint is the endpoint of pod in a slice of addressType. Serving is
// the pod's readiness, even while it terminates (so that a proxy may fall
// back to terminating endpoints); ready is serving and not terminating,
// or always with publishNotReadyAddresses.
func podEndpoint(pod *corev1.Pod, node *corev1.Node, svc *corev1.Service, addressType discoveryv1.AddressType) discoveryv1.Endpoint {
	serving := endpointutil.IsPodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses: podAddresses(pod, addressType),
		Conditions: discoveryv1.EndpointConditions{
			Ready:       &ready,
			Serving:     &serving,
			Terminating: &terminating,
		},
		TargetRef: &corev1.ObjectReference{
			Kind:      "Pod",
			Namespace: pod.Namespace,
			Name:      pod.Name,
			UID:       pod.UID,
		},
	}
	if pod.Spec.NodeName != "" {
		nodeName := pod.Spec.NodeName
		ep.NodeName = &nodeName
	}
	if node != nil && node.Labels[corev1.LabelTopologyZone] != "" {
		zone := node.Labels[corev1.LabelTopologyZone]
		ep.Zone = &zone
	}
	if endpointutil.ShouldSetHostname(pod, svc) {
		hostname := pod.Spec.Hostname
		ep.Hostname = &hostname
	}
	return ep
}

// podAddresses are the pod's IPs of the slice's family.
func podAddresses(pod *corev1.Pod, addressType discoveryv1.AddressType) []string {
	var out []string
	for _, ip := range endpointutil.PodIPs(pod) {
		if addressTypeOf(ip) == addressType {
			out = append(out, ip)
		}
	}
	return out
}

func addressTypeOf(ip string) discoveryv1.AddressType {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

// endpointPorts are the service's ports resolved on pod; ports a pod does
// not serve (an unknown name) are left out, which puts the pod in slices
// of its own port set.
func endpointPorts(svc *corev1.Service, pod *corev1.Pod) []discoveryv1.EndpointPort {
	out := []discoveryv1.EndpointPort{}
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := endpointutil.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, protocol := sp.Name, sp.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		out = append(out, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &protocol, AppProtocol: sp.AppProtocol})
	}
	return out
}

// portsKey names a port set regardless of order: slices are grouped by it.
func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, 0, len(ports))
	for _, p := range ports {
		parts = append(parts, fmt.Sprintf("%s/%s/%d/%s", deref(p.Name), deref(p.Protocol), deref(p.Port), deref(p.AppProtocol)))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// endpointKey identifies an endpoint across syncs: its addresses, hostname
// and pod. Other fields (conditions, node, zone) may change in place.
func endpointKey(ep *discoveryv1.Endpoint) string {
	addrs := slices.Clone(ep.Addresses)
	slices.Sort(addrs)
	var ref string
	if ep.TargetRef != nil {
		ref = ep.TargetRef.Namespace + "/" + ep.TargetRef.Name
	}
	return strings.Join(addrs, ",") + "|" + deref(ep.Hostname) + "|" + ref
}

// endpointsEqualBeyondKey reports whether two endpoints of the same key
// show the same thing (pods' resourceVersions aside).
func endpointsEqualBeyondKey(a, b *discoveryv1.Endpoint) bool {
	refEqual := func(x, y *corev1.ObjectReference) bool {
		if x == nil || y == nil {
			return x == y
		}
		xc, yc := *x, *y
		xc.ResourceVersion, yc.ResourceVersion = "", ""
		return xc == yc
	}
	return deref(a.NodeName) == deref(b.NodeName) && (a.NodeName == nil) == (b.NodeName == nil) &&
		deref(a.Zone) == deref(b.Zone) && (a.Zone == nil) == (b.Zone == nil) &&
		boolPtrEqual(a.Conditions.Ready, b.Conditions.Ready) &&
		boolPtrEqual(a.Conditions.Serving, b.Conditions.Serving) &&
		boolPtrEqual(a.Conditions.Terminating, b.Conditions.Terminating) &&
		refEqual(a.TargetRef, b.TargetRef) &&
		a.Hints == nil && b.Hints == nil
}

func boolPtrEqual(a, b *bool) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// endpointSet is the desired endpoints of one port set, by key.
type endpointSet map[string]*discoveryv1.Endpoint

func (s endpointSet) insert(ep *discoveryv1.Endpoint) { s[endpointKey(ep)] = ep }

// popSorted removes and returns the endpoints in key order: upstream pops
// in map order; a fixed order keeps slices stable across restarts.
func (s endpointSet) popSorted(n int) []discoveryv1.Endpoint {
	keys := slices.Sorted(maps.Keys(s))
	if n < len(keys) {
		keys = keys[:n]
	}
	out := make([]discoveryv1.Endpoint, 0, len(keys))
	for _, k := range keys {
		out = append(out, *s[k])
		delete(s, k)
	}
	return out
}

// serviceAddressTypes are the slice families a service has: its IP
// families; a service not yet defaulted gets its cluster IP's family, or
// both when headless, as upstream.
func serviceAddressTypes(svc *corev1.Service) sets.Set[discoveryv1.AddressType] {
	out := sets.New[discoveryv1.AddressType]()
	for _, f := range svc.Spec.IPFamilies {
		switch f {
		case corev1.IPv4Protocol:
			out.Insert(discoveryv1.AddressTypeIPv4)
		case corev1.IPv6Protocol:
			out.Insert(discoveryv1.AddressTypeIPv6)
		}
	}
	if out.Len() > 0 {
		return out
	}
	if endpointutil.IsServiceIPSet(svc) {
		return out.Insert(addressTypeOf(svc.Spec.ClusterIP))
	}
	return out.Insert(discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6)
}

// newSlice is an empty slice of svc for ports and addressType.
func newSlice(svc *corev1.Service, ports []discoveryv1.EndpointPort, addressType discoveryv1.AddressType) *discoveryv1.EndpointSlice {
	owner := metav1.NewControllerRef(svc, corev1.SchemeGroupVersion.WithKind("Service"))
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    slicePrefix(svc.Name),
			Namespace:       svc.Namespace,
			OwnerReferences: []metav1.OwnerReference{*owner},
		},
		AddressType: addressType,
		Ports:       ports,
		Endpoints:   []discoveryv1.Endpoint{},
	}
	s.Labels = sliceLabels(svc)
	return s
}

// slicePrefix is "<service>-" when that leaves room for the random suffix
// in a valid name, else the service name.
func slicePrefix(name string) string {
	prefix := name + "-"
	// generateName adds 5 characters.
	if len(validation.IsDNS1123Subdomain(prefix+"abcde")) != 0 {
		return name
	}
	return prefix
}

// reservedLabels are the slice labels the controller owns; a service's
// own labels of these names are ignored.
var reservedLabels = sets.New(discoveryv1.LabelServiceName, discoveryv1.LabelManagedBy, corev1.IsHeadlessService)

// sliceLabels are a slice's labels: the service's, the headless marker
// for a service without cluster IP, the service name and the manager.
func sliceLabels(svc *corev1.Service) map[string]string {
	out := map[string]string{}
	for k, v := range svc.Labels {
		if !reservedLabels.Has(k) {
			out[k] = v
		}
	}
	if !endpointutil.IsServiceIPSet(svc) {
		out[corev1.IsHeadlessService] = ""
	}
	out[discoveryv1.LabelServiceName] = svc.Name
	out[discoveryv1.LabelManagedBy] = ControllerName
	return out
}

// ownedBy reports whether svc (this very object, by UID) owns the slice.
func ownedBy(s *discoveryv1.EndpointSlice, svc *corev1.Service) bool {
	for _, o := range s.OwnerReferences {
		if o.UID == svc.UID && o.Kind == "Service" && o.APIVersion == "v1" {
			return true
		}
	}
	return false
}

// compareByLen orders slices fullest first.
func compareByLen(a, b *discoveryv1.EndpointSlice) int {
	return cmp.Or(cmp.Compare(len(b.Endpoints), len(a.Endpoints)), cmp.Compare(a.Name, b.Name))
}
