package interpodaffinity

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// scoreState is the summed term weights per topology key and value.
type scoreState struct {
	topologyScore map[string]map[string]int64
}

func (s *scoreState) add(key, value string, w int64) {
	m := s.topologyScore[key]
	if m == nil {
		m = map[string]int64{}
		s.topologyScore[key] = m
	}
	m[value] += w
}

// PreScore sums, over every pod in the cluster (only pods with affinity
// terms when the incoming pod has no preferred terms), the weights of
// the terms linking it with the incoming pod, per topology domain.
func (pl *InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, feasible []*framework.NodeInfo) *framework.Status {
	terms := parseTerms(pod)
	hasPreferred := len(terms.preferredAffinity) > 0 || len(terms.preferredAnti) > 0
	nodes := nodesFrom(state)
	if nodes == nil {
		nodes = feasible
	}
	s := &scoreState{topologyScore: map[string]map[string]int64{}}
	for _, ni := range nodes {
		if ni.Node == nil || len(ni.Node.Labels) == 0 {
			continue
		}
		pods := ni.PodsWithAffinity
		if hasPreferred {
			pods = ni.Pods
		}
		for _, existing := range pods {
			pl.scoreExisting(s, &terms, pod, existing, ni.Node)
		}
	}
	if len(s.topologyScore) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreKey, s)
	return nil
}

func (pl *InterPodAffinity) scoreExisting(s *scoreState, terms *podTerms, pod, existing *corev1.Pod, node *corev1.Node) {
	process := func(ts []term, target *corev1.Pod, sign int64, fixed int64) {
		for i := range ts {
			t := &ts[i]
			v, ok := node.Labels[t.topologyKey]
			if !ok || !t.matches(target, pl.nsLabels()) {
				continue
			}
			w := int64(t.weight)
			if fixed > 0 {
				w = fixed
			}
			s.add(t.topologyKey, v, w*sign)
		}
	}
	// The incoming pod's preferences about existing...
	process(terms.preferredAffinity, existing, 1, 0)
	process(terms.preferredAnti, existing, -1, 0)
	// ...and existing's about the incoming pod.
	if existing.Spec.Affinity == nil {
		return
	}
	et := parseTerms(existing)
	process(et.requiredAffinity, pod, 1, hardPodAffinityWeight)
	process(et.preferredAffinity, pod, 1, 0)
	process(et.preferredAnti, pod, -1, 0)
}

// Score sums the node's domains' weights.
func (pl *InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	v, ok := state.Read(preScoreKey)
	if !ok {
		return 0, nil
	}
	s := v.(*scoreState)
	var score int64
	for key, values := range s.topologyScore {
		if val, ok := node.Node.Labels[key]; ok {
			score += values[val]
		}
	}
	return score, nil
}

// NormalizeScore maps the sums linearly from [min, max] onto 0..100.
func (pl *InterPodAffinity) NormalizeScore(_ context.Context, state *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	if _, ok := state.Read(preScoreKey); !ok {
		return nil
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	diff := hi - lo
	for i := range scores {
		f := 0.0
		if diff > 0 {
			f = float64(framework.MaxNodeScore) * float64(scores[i].Score-lo) / float64(diff)
		}
		scores[i].Score = int64(f)
	}
	return nil
}
