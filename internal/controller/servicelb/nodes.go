package servicelb

import (
	"hash/fnv"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// excludeLabel keeps a node out of every load balancer, as upstream's
// service controller (and k3s's ServiceLB) honour it.
const excludeLabel = corev1.LabelNodeExcludeBalancers

// readyNodes returns the nodes that may serve load balancers: Ready, not
// being deleted, not excluded; sorted by name.
func (c *Controller) readyNodes() ([]*corev1.Node, error) {
	all, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*corev1.Node
	for _, n := range all {
		if eligible(n) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Node) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out, nil
}

func eligible(n *corev1.Node) bool {
	if n.DeletionTimestamp != nil {
		return false
	}
	if _, excluded := n.Labels[excludeLabel]; excluded {
		return false
	}
	return isReady(n)
}

func isReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// internalIPs returns the nodes' InternalIPs, sorted and without
// duplicates.
func internalIPs(nodes []*corev1.Node) []netip.Addr {
	var out []netip.Addr
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if a.Type != corev1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return slices.Compact(out)
}

// chooseNode returns the node that announces key's address: current if
// it is still among nodes (so that an address does not move while its
// node is fine), else one picked by hashing key over the sorted names,
// which every controller instance computes alike. "" when nodes is
// empty.
func chooseNode(key, current string, nodes []*corev1.Node) string {
	if len(nodes) == 0 {
		return ""
	}
	for _, n := range nodes {
		if n.Name == current {
			return current
		}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return nodes[h.Sum32()%uint32(len(nodes))].Name
}

// nodeChanged reports whether a node update matters to load balancers.
func nodeChanged(old, cur *corev1.Node) bool {
	if eligible(old) != eligible(cur) {
		return true
	}
	return !slices.Equal(internalIPs([]*corev1.Node{old}), internalIPs([]*corev1.Node{cur}))
}
