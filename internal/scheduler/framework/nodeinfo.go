package framework

import (
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/component-helpers/resource"
)

// Resource is an amount of each schedulable resource.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// AllowedPodNumber is the pod count (only meaningful in Allocatable).
	AllowedPodNumber int64
	// Scalar holds extended resources (e.g. example.com/gpu, hugepages-2Mi).
	Scalar map[corev1.ResourceName]int64
}

// Add adds rl to r.
func (r *Resource) Add(rl corev1.ResourceList) {
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
			r.AllowedPodNumber += q.Value()
		default:
			if r.Scalar == nil {
				r.Scalar = map[corev1.ResourceName]int64{}
			}
			r.Scalar[name] += q.Value()
		}
	}
}

// addResource adds (sign 1) or removes (sign -1) o.
func (r *Resource) addResource(o Resource, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	for name, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[name] += sign * v
	}
}

// Defaults a pod without requests counts with when scoring, as upstream
// (so that empty pods still spread).
const (
	DefaultMilliCPURequest int64 = 100
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// PodRequests is what a pod asks of its node: the larger of the sum of its
// containers and its largest init container (sidecars counted as
// upstream), plus its overhead, via component-helpers as upstream does.
func PodRequests(pod *corev1.Pod) Resource {
	var r Resource
	r.Add(resource.PodRequests(pod, resource.PodResourcesOptions{}))
	return r
}

// NonZeroRequests is PodRequests with the scoring defaults for cpu and
// memory where a container asks for none.
func NonZeroRequests(pod *corev1.Pod) Resource {
	req := resource.PodRequests(pod, resource.PodResourcesOptions{
		NonMissingContainerRequests: corev1.ResourceList{
			corev1.ResourceCPU:    *apiresource.NewMilliQuantity(DefaultMilliCPURequest, apiresource.DecimalSI),
			corev1.ResourceMemory: *apiresource.NewQuantity(DefaultMemoryRequest, apiresource.BinarySI),
		},
	})
	var r Resource
	r.Add(req)
	return r
}

// HostPort is one host port a pod holds.
type HostPort struct {
	IP       string // "0.0.0.0" when the pod gave none
	Protocol corev1.Protocol
	Port     int32
}

// NodeInfo is the scheduler's view of one node: the node and the pods
// bound (or assumed bound) to it, with their sums precomputed.
type NodeInfo struct {
	Node *corev1.Node
	Pods []*corev1.Pod
	// Requested is the sum of PodRequests over Pods.
	Requested Resource
	// NonZeroRequested is Requested with scoring defaults for empty pods.
	NonZeroRequested Resource
	// Allocatable is the node's status.allocatable.
	Allocatable Resource
	// UsedPorts are the host ports held by Pods.
	UsedPorts []HostPort
	// PodsWithAffinity are the Pods that carry pod (anti-)affinity terms,
	// PodsWithRequiredAntiAffinity those with required anti-affinity:
	// the inter-pod affinity plugin walks only these.
	PodsWithAffinity             []*corev1.Pod
	PodsWithRequiredAntiAffinity []*corev1.Pod
	// Generation changes whenever the NodeInfo changes.
	Generation int64
}

// NewNodeInfo returns the view of node with pods on it.
func NewNodeInfo(node *corev1.Node, pods ...*corev1.Pod) *NodeInfo {
	n := &NodeInfo{}
	n.SetNode(node)
	for _, p := range pods {
		n.AddPod(p)
	}
	return n
}

// SetNode sets (or replaces) the node.
func (n *NodeInfo) SetNode(node *corev1.Node) {
	n.Node = node
	n.Allocatable = Resource{}
	if node != nil {
		n.Allocatable.Add(node.Status.Allocatable)
	}
	n.Generation++
}

// AddPod accounts for pod on this node.
func (n *NodeInfo) AddPod(pod *corev1.Pod) {
	n.Pods = append(n.Pods, pod)
	n.Requested.addResource(PodRequests(pod), 1)
	n.NonZeroRequested.addResource(NonZeroRequests(pod), 1)
	n.UsedPorts = append(n.UsedPorts, hostPorts(pod)...)
	if hasAffinity(pod) {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pod)
	}
	if hasRequiredAntiAffinity(pod) {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pod)
	}
	n.Generation++
}

// RemovePod forgets the pod with pod's UID; it reports whether it was here.
func (n *NodeInfo) RemovePod(pod *corev1.Pod) bool {
	i := indexOf(n.Pods, pod)
	if i < 0 {
		return false
	}
	old := n.Pods[i]
	n.Pods = append(n.Pods[:i:i], n.Pods[i+1:]...)
	n.Requested.addResource(PodRequests(old), -1)
	n.NonZeroRequested.addResource(NonZeroRequests(old), -1)
	n.UsedPorts = removePorts(n.UsedPorts, hostPorts(old))
	if j := indexOf(n.PodsWithAffinity, old); j >= 0 {
		n.PodsWithAffinity = append(n.PodsWithAffinity[:j:j], n.PodsWithAffinity[j+1:]...)
	}
	if j := indexOf(n.PodsWithRequiredAntiAffinity, old); j >= 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity[:j:j], n.PodsWithRequiredAntiAffinity[j+1:]...)
	}
	n.Generation++
	return true
}

// Clone returns a copy that can be changed (pods added or removed, as
// preemption does when it tries victims) without touching n. Pods and the
// node themselves are shared and must not be modified.
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Pods = append([]*corev1.Pod(nil), n.Pods...)
	c.UsedPorts = append([]HostPort(nil), n.UsedPorts...)
	c.PodsWithAffinity = append([]*corev1.Pod(nil), n.PodsWithAffinity...)
	c.PodsWithRequiredAntiAffinity = append([]*corev1.Pod(nil), n.PodsWithRequiredAntiAffinity...)
	c.Requested.Scalar = cloneScalar(n.Requested.Scalar)
	c.NonZeroRequested.Scalar = cloneScalar(n.NonZeroRequested.Scalar)
	c.Allocatable.Scalar = cloneScalar(n.Allocatable.Scalar)
	return &c
}

func cloneScalar(m map[corev1.ResourceName]int64) map[corev1.ResourceName]int64 {
	if m == nil {
		return nil
	}
	c := make(map[corev1.ResourceName]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func indexOf(pods []*corev1.Pod, pod *corev1.Pod) int {
	for i, p := range pods {
		if p.UID == pod.UID {
			return i
		}
	}
	return -1
}

func hostPorts(pod *corev1.Pod) []HostPort {
	var ports []HostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			ports = append(ports, HostPort{IP: ip, Protocol: proto, Port: p.HostPort})
		}
	}
	return ports
}

func removePorts(used, gone []HostPort) []HostPort {
	for _, g := range gone {
		for i, u := range used {
			if u == g {
				used = append(used[:i:i], used[i+1:]...)
				break
			}
		}
	}
	return used
}

func hasAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

func hasRequiredAntiAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}
