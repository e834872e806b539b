package podtopologyspread

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "PodTopologySpread"

// Upstream's reasons.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

const (
	preFilterKey = "PreFilter" + Name
	allNodesKey  = "AllNodes" + Name
	preScoreKey  = "PreScore" + Name
)

// PodTopologySpread is the plugin.
type PodTopologySpread struct{}

// New returns the plugin.
func New() *PodTopologySpread { return &PodTopologySpread{} }

// Name returns the plugin name.
func (*PodTopologySpread) Name() string { return Name }

// Weight is upstream's default-profile weight.
func (*PodTopologySpread) Weight() int64 { return 2 }

// preFilterState counts matching pods per domain of each DoNotSchedule
// constraint, with the minimum kept for Filter.
type preFilterState struct {
	constraints []constraint
	counts      []map[string]int64
	minCount    []int64
	req         nodeaffinity.RequiredNodeAffinity
}

// Clone copies the counts (preemption changes them per node).
func (s *preFilterState) Clone() framework.StateData {
	c := *s
	c.counts = make([]map[string]int64, len(s.counts))
	for i, m := range s.counts {
		c.counts[i] = make(map[string]int64, len(m))
		for k, v := range m {
			c.counts[i][k] = v
		}
	}
	c.minCount = append([]int64(nil), s.minCount...)
	return &c
}

func (s *preFilterState) recomputeMin(i int) {
	lo := int64(math.MaxInt64)
	for _, v := range s.counts[i] {
		lo = min(lo, v)
	}
	if len(s.counts[i]) == 0 {
		lo = 0
	}
	s.minCount[i] = lo
}

// PreFilter counts, per domain, the pods each DoNotSchedule constraint
// selects, over the nodes the constraint includes.
func (pl *PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, nodes []*framework.NodeInfo) *framework.Status {
	state.Write(allNodesKey, nodes)
	cs := parseConstraints(pod, corev1.DoNotSchedule)
	if len(cs) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	s := &preFilterState{constraints: cs, counts: make([]map[string]int64, len(cs)), minCount: make([]int64, len(cs)),
		req: nodeaffinity.GetRequiredNodeAffinity(pod)}
	for i := range cs {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range nodes {
		if !hasAllKeys(ni.Node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if !c.includes(pod, ni.Node, &s.req) {
				continue
			}
			s.counts[i][ni.Node.Labels[c.topologyKey]] += countMatching(ni.Pods, c.selector, pod.Namespace)
		}
	}
	for i := range cs {
		s.recomputeMin(i)
	}
	state.Write(preFilterKey, s)
	return nil
}

// Filter rejects the node if placing the pod there would exceed a
// constraint's maxSkew.
func (pl *PodTopologySpread) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	v, ok := state.Read(preFilterKey)
	if !ok {
		return nil
	}
	s := v.(*preFilterState)
	podLabels := labels.Set(pod.Labels)
	for i := range s.constraints {
		c := &s.constraints[i]
		val, ok := node.Node.Labels[c.topologyKey]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch)
		}
		minMatch := s.minCount[i]
		if int32(len(s.counts[i])) < c.minDomains {
			minMatch = 0
		}
		var self int64
		if c.selector.Matches(podLabels) {
			self = 1
		}
		if s.counts[i][val]+self-minMatch > int64(c.maxSkew) {
			return framework.NewStatus(framework.Unschedulable, ErrReasonConstraintsNotMatch)
		}
	}
	return nil
}

// AddPod counts p as if it were on node.
func (pl *PodTopologySpread) AddPod(_ context.Context, state *framework.CycleState, pod, p *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	pl.update(state, pod, p, node, 1)
	return nil
}

// RemovePod counts p as if it were gone from node.
func (pl *PodTopologySpread) RemovePod(_ context.Context, state *framework.CycleState, pod, p *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	pl.update(state, pod, p, node, -1)
	return nil
}

func (pl *PodTopologySpread) update(state *framework.CycleState, pod, p *corev1.Pod, node *framework.NodeInfo, delta int64) {
	v, ok := state.Read(preFilterKey)
	if !ok || node.Node == nil || p.Namespace != pod.Namespace {
		return
	}
	s := v.(*preFilterState)
	if !hasAllKeys(node.Node, s.constraints) {
		return
	}
	for i := range s.constraints {
		c := &s.constraints[i]
		if !c.includes(pod, node.Node, &s.req) || !c.selector.Matches(labels.Set(p.Labels)) {
			continue
		}
		s.counts[i][node.Node.Labels[c.topologyKey]] += delta
		s.recomputeMin(i)
	}
}
