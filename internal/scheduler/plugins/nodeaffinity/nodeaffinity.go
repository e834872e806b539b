package nodeaffinity

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "NodeAffinity"

// ErrReasonPod is upstream's reason.
const ErrReasonPod = "node(s) didn't match Pod's node affinity/selector"

const (
	preFilterKey = "PreFilter" + Name
	preScoreKey  = "PreScore" + Name
)

// NodeAffinity is the plugin.
type NodeAffinity struct{}

// Name returns the plugin name.
func (NodeAffinity) Name() string { return Name }

// Weight is upstream's default-profile weight.
func (NodeAffinity) Weight() int64 { return 2 }

// PreFilter parses the pod's selector and required affinity once; pods
// with neither skip the filter.
func (NodeAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	a := pod.Spec.Affinity
	hasRequired := a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil
	if len(pod.Spec.NodeSelector) == 0 && !hasRequired {
		return framework.NewStatus(framework.Skip)
	}
	if names := (NodeAffinity{}).PreFilterResult(pod); names != nil && len(names) == 0 {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, errReasonConflict)
	}
	req := nodeaffinity.GetRequiredNodeAffinity(pod)
	state.Write(preFilterKey, &req)
	return nil
}

// errReasonConflict is upstream's verdict when the required terms name
// disjoint sets of nodes.
const errReasonConflict = "pod affinity terms conflict"

// PreFilterResult names the nodes the pod's required affinity pins it to
// through matchFields metadata.name In, when every term does so (terms
// are ORed, requirements within a term ANDed); otherwise nil.
func (NodeAffinity) PreFilterResult(pod *corev1.Pod) map[string]bool {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	var names map[string]bool
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		var term map[string]bool
		for _, r := range t.MatchFields {
			if r.Key != "metadata.name" || r.Operator != corev1.NodeSelectorOpIn {
				continue
			}
			vals := map[string]bool{}
			for _, v := range r.Values {
				if term == nil || term[v] {
					vals[v] = true
				}
			}
			term = vals
		}
		if term == nil {
			return nil // this term allows any node
		}
		if names == nil {
			names = map[string]bool{}
		}
		for n := range term {
			names[n] = true
		}
	}
	return names
}

// Filter rejects nodes the pod's selector or required affinity excludes.
func (NodeAffinity) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	var req nodeaffinity.RequiredNodeAffinity
	if v, ok := state.Read(preFilterKey); ok {
		req = *v.(*nodeaffinity.RequiredNodeAffinity)
	} else {
		req = nodeaffinity.GetRequiredNodeAffinity(pod)
	}
	if ok, _ := req.Match(node.Node); ok {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonPod)
}

// PreScore parses the preferred terms; pods without any skip scoring.
func (NodeAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	terms, err := nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	if err != nil {
		return framework.AsStatus(err)
	}
	state.Write(preScoreKey, terms)
	return nil
}

// Score sums the weights of the preferred terms the node matches.
func (NodeAffinity) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(preScoreKey)
	if !ok {
		return 0, nil
	}
	return v.(*nodeaffinity.PreferredSchedulingTerms).Score(node.Node), nil
}

// NormalizeScore maps the sums to 0..100.
func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(framework.MaxNodeScore, false, scores)
	return nil
}
