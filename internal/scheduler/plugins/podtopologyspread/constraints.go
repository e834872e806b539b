package podtopologyspread

import (
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// constraint is a parsed TopologySpreadConstraint.
type constraint struct {
	maxSkew     int32
	topologyKey string
	selector    labels.Selector
	minDomains  int32
	// honorAffinity: count only nodes the pod's node affinity allows
	// (nodeAffinityPolicy, default Honor); honorTaints: only nodes whose
	// taints it tolerates (nodeTaintsPolicy, default Ignore).
	honorAffinity, honorTaints bool
}

// parseConstraints returns the pod's constraints with the given
// whenUnsatisfiable, with matchLabelKeys folded into the selector as
// upstream does.
func parseConstraints(pod *corev1.Pod, action corev1.UnsatisfiableConstraintAction) []constraint {
	var out []constraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			sel = labels.Nothing()
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, selection.In, []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		pc := constraint{
			maxSkew:       c.MaxSkew,
			topologyKey:   c.TopologyKey,
			selector:      sel,
			minDomains:    1,
			honorAffinity: c.NodeAffinityPolicy == nil || *c.NodeAffinityPolicy == corev1.NodeInclusionPolicyHonor,
			honorTaints:   c.NodeTaintsPolicy != nil && *c.NodeTaintsPolicy == corev1.NodeInclusionPolicyHonor,
		}
		if c.MinDomains != nil {
			pc.minDomains = *c.MinDomains
		}
		out = append(out, pc)
	}
	return out
}

// includes reports whether node counts for the constraint under its node
// inclusion policies.
func (c *constraint) includes(pod *corev1.Pod, node *corev1.Node, req *nodeaffinity.RequiredNodeAffinity) bool {
	if c.honorAffinity {
		if ok, _ := req.Match(node); !ok {
			return false
		}
	}
	if c.honorTaints {
		for i := range node.Spec.Taints {
			t := &node.Spec.Taints[i]
			if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
				continue
			}
			tolerated := false
			for j := range pod.Spec.Tolerations {
				if pod.Spec.Tolerations[j].ToleratesTaint(logr.Discard(), t, false) {
					tolerated = true
					break
				}
			}
			if !tolerated {
				return false
			}
		}
	}
	return true
}

// hasAllKeys reports whether node carries every constraint's topology
// label; nodes that do not are left out of the counting.
func hasAllKeys(node *corev1.Node, cs []constraint) bool {
	for i := range cs {
		if _, ok := node.Labels[cs[i].topologyKey]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts pods in ns, not terminating, that sel selects.
func countMatching(pods []*corev1.Pod, sel labels.Selector, ns string) int64 {
	var n int64
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return n
}
