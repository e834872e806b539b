package interpodaffinity

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// PreFilter counts, per topology domain, the pods matching the incoming
// pod's required terms and the existing pods whose required anti-affinity
// the incoming pod matches. A pod with no required terms on a cluster
// without required anti-affinity skips the filter.
func (pl *InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	state.Write(allNodesKey, nodes)
	s := &preFilterState{terms: parseTerms(pod), pod: pod,
		existingAnti: pairCounts{}, affinityCounts: pairCounts{}, antiAffinityCnts: pairCounts{}}
	hasRequired := len(s.terms.requiredAffinity) > 0 || len(s.terms.requiredAnti) > 0
	anyExistingAnti := false
	for _, ni := range nodes {
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			anyExistingAnti = true
			break
		}
	}
	if !hasRequired && !anyExistingAnti {
		return framework.NewStatus(framework.Skip)
	}
	for _, ni := range nodes {
		if anyExistingAnti {
			for _, p := range ni.PodsWithRequiredAntiAffinity {
				pl.countExistingAnti(s, p, ni.Node, 1)
			}
		}
		if hasRequired {
			for _, p := range ni.Pods {
				pl.countIncoming(s, p, ni.Node, 1)
			}
		}
	}
	state.Write(preFilterKey, s)
	return nil
}

// countExistingAnti adds the domains where existing's required
// anti-affinity repels the incoming pod.
func (pl *InterPodAffinity) countExistingAnti(s *preFilterState, existing *corev1.Pod, node *corev1.Node, n int64) {
	if node == nil {
		return
	}
	a := existing.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return
	}
	for i := range a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution {
		t := newTerm(&a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[i], existing.Namespace, 1)
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(s.pod, pl.nsLabels()) {
			s.existingAnti.add(topologyPair{t.topologyKey, v}, n)
		}
	}
}

// countIncoming adds the domains where existing matches the incoming
// pod's required affinity and anti-affinity terms.
func (pl *InterPodAffinity) countIncoming(s *preFilterState, existing *corev1.Pod, node *corev1.Node, n int64) {
	if node == nil {
		return
	}
	for i := range s.terms.requiredAffinity {
		t := &s.terms.requiredAffinity[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(existing, pl.nsLabels()) {
			s.affinityCounts.add(topologyPair{t.topologyKey, v}, n)
		}
	}
	for i := range s.terms.requiredAnti {
		t := &s.terms.requiredAnti[i]
		if v, ok := node.Labels[t.topologyKey]; ok && t.matches(existing, pl.nsLabels()) {
			s.antiAffinityCnts.add(topologyPair{t.topologyKey, v}, n)
		}
	}
}

// AddPod updates the counts as if p were on node.
func (pl *InterPodAffinity) AddPod(_ context.Context, state *framework.CycleState, _, p *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	pl.update(state, p, node, 1)
	return nil
}

// RemovePod updates the counts as if p were gone from node.
func (pl *InterPodAffinity) RemovePod(_ context.Context, state *framework.CycleState, _, p *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	pl.update(state, p, node, -1)
	return nil
}

func (pl *InterPodAffinity) update(state *framework.CycleState, p *corev1.Pod, node *framework.NodeInfo, n int64) {
	s := stateFrom(state)
	if s == nil {
		return
	}
	pl.countExistingAnti(s, p, node.Node, n)
	pl.countIncoming(s, p, node.Node, n)
}

// Filter checks, in upstream's order, the pod's required affinity, its
// required anti-affinity, then existing pods' required anti-affinity.
func (pl *InterPodAffinity) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	s := stateFrom(state)
	if s == nil {
		return nil
	}
	labels := node.Node.Labels
	if !satisfyAffinity(s, labels, pl.nsLabels()) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch)
	}
	for i := range s.terms.requiredAnti {
		t := &s.terms.requiredAnti[i]
		if v, ok := labels[t.topologyKey]; ok && s.antiAffinityCnts[topologyPair{t.topologyKey, v}] > 0 {
			return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch)
		}
	}
	if len(s.existingAnti) > 0 {
		for k, v := range labels {
			if s.existingAnti[topologyPair{k, v}] > 0 {
				return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch)
			}
		}
	}
	return nil
}

// satisfyAffinity: every term's topology label must be on the node and
// the domain must hold a matching pod — except for the first pod of a
// group that selects itself, which may go anywhere with the labels while
// no matching pod exists at all.
func satisfyAffinity(s *preFilterState, labels map[string]string, nsl NamespaceLabels) bool {
	podsExist := true
	for i := range s.terms.requiredAffinity {
		t := &s.terms.requiredAffinity[i]
		v, ok := labels[t.topologyKey]
		if !ok {
			return false
		}
		if s.affinityCounts[topologyPair{t.topologyKey, v}] <= 0 {
			podsExist = false
		}
	}
	if podsExist {
		return true
	}
	if len(s.affinityCounts) != 0 {
		return false
	}
	for i := range s.terms.requiredAffinity {
		if !s.terms.requiredAffinity[i].matches(s.pod, nsl) {
			return false
		}
	}
	return true
}
