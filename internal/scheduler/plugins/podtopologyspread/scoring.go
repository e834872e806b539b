package podtopologyspread

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	"mini.dev/mini/internal/scheduler/framework"
)

// scoreState holds, per ScheduleAnyway constraint, the matching pods per
// domain of the feasible nodes and the weight that normalises domains
// of different sizes (log(domains+2), as upstream).
type scoreState struct {
	constraints []constraint
	counts      []map[string]int64
	weights     []float64
	ignored     map[string]bool
}

// PreScore counts matching pods per domain, over every node the
// constraint includes, for the domains the feasible nodes are in. Nodes
// lacking a topology label are scored 0.
func (pl *PodTopologySpread) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, feasible []*framework.NodeInfo) *framework.Status {
	cs := parseConstraints(pod, corev1.ScheduleAnyway)
	if len(cs) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	s := &scoreState{constraints: cs, counts: make([]map[string]int64, len(cs)), weights: make([]float64, len(cs)), ignored: map[string]bool{}}
	for i := range cs {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range feasible {
		if !hasAllKeys(ni.Node, cs) {
			s.ignored[ni.Node.Name] = true
			continue
		}
		for i := range cs {
			if cs[i].topologyKey != corev1.LabelHostname {
				s.counts[i][ni.Node.Labels[cs[i].topologyKey]] += 0
			}
		}
	}
	for i := range cs {
		size := len(s.counts[i])
		if cs[i].topologyKey == corev1.LabelHostname {
			size = len(feasible) - len(s.ignored)
		}
		s.weights[i] = math.Log(float64(size + 2))
	}
	all, _ := state.Read(allNodesKey)
	nodes, _ := all.([]*framework.NodeInfo)
	if nodes == nil {
		nodes = feasible
	}
	req := nodeaffinity.GetRequiredNodeAffinity(pod)
	for _, ni := range nodes {
		if ni.Node == nil || !hasAllKeys(ni.Node, cs) {
			continue
		}
		for i := range cs {
			c := &cs[i]
			if c.topologyKey == corev1.LabelHostname || !c.includes(pod, ni.Node, &req) {
				continue
			}
			val := ni.Node.Labels[c.topologyKey]
			if _, ok := s.counts[i][val]; ok {
				s.counts[i][val] += countMatching(ni.Pods, c.selector, pod.Namespace)
			}
		}
	}
	state.Write(preScoreKey, s)
	return nil
}

// Score is the weighted count of matching pods in the node's domains
// (fewer is better; NormalizeScore turns it around).
func (pl *PodTopologySpread) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(preScoreKey)
	if !ok {
		return 0, nil
	}
	s := v.(*scoreState)
	if s.ignored[node.Node.Name] {
		return 0, nil
	}
	var score float64
	for i := range s.constraints {
		c := &s.constraints[i]
		val, ok := node.Node.Labels[c.topologyKey]
		if !ok {
			continue
		}
		var n int64
		if c.topologyKey == corev1.LabelHostname {
			n = countMatching(node.Pods, c.selector, pod.Namespace)
		} else {
			n = s.counts[i][val]
		}
		score += float64(n)*s.weights[i] + float64(c.maxSkew-1)
	}
	return int64(math.Round(score)), nil
}

// NormalizeScore maps scores so the emptiest domains get 100; ignored
// nodes get 0.
func (pl *PodTopologySpread) NormalizeScore(_ context.Context, state *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	v, ok := state.Read(preScoreKey)
	if !ok {
		return nil
	}
	s := v.(*scoreState)
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, sc := range scores {
		if s.ignored[sc.Name] {
			continue
		}
		lo, hi = min(lo, sc.Score), max(hi, sc.Score)
	}
	for i := range scores {
		switch {
		case s.ignored[scores[i].Name]:
			scores[i].Score = 0
		case hi == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (hi + lo - scores[i].Score) / hi
		}
	}
	return nil
}
