package interpodaffinity

import (
	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "InterPodAffinity"

// Upstream's reasons.
const (
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
)

// hardPodAffinityWeight is upstream's default weight of an existing
// pod's required affinity term when scoring the pods it selects.
const hardPodAffinityWeight = 1

const (
	preFilterKey = "PreFilter" + Name
	allNodesKey  = "AllNodes" + Name
	preScoreKey  = "PreScore" + Name
)

// InterPodAffinity is the plugin.
type InterPodAffinity struct {
	// NamespaceLabels resolves namespaceSelector terms; nil means such
	// terms select only the namespaces they list.
	NamespaceLabels NamespaceLabels
}

// Name returns the plugin name.
func (*InterPodAffinity) Name() string { return Name }

// Weight is upstream's default-profile weight.
func (*InterPodAffinity) Weight() int64 { return 2 }

var _ interface {
	framework.PreFilterPlugin
	framework.FilterPlugin
	framework.PreFilterExtensions
	framework.PreScorePlugin
	framework.ScorePlugin
	framework.ScoreNormalizer
} = (*InterPodAffinity)(nil)

// preFilterState holds, per topology domain, how many pods match the
// incoming pod's required affinity and anti-affinity terms, and how many
// existing pods' required anti-affinity terms the incoming pod matches.
type preFilterState struct {
	terms            podTerms
	pod              *corev1.Pod
	existingAnti     pairCounts
	affinityCounts   pairCounts
	antiAffinityCnts pairCounts
}

// Clone copies the counts (preemption changes them per node).
func (s *preFilterState) Clone() framework.StateData {
	c := *s
	c.existingAnti = s.existingAnti.clone()
	c.affinityCounts = s.affinityCounts.clone()
	c.antiAffinityCnts = s.antiAffinityCnts.clone()
	return &c
}

func (pl *InterPodAffinity) nsLabels() NamespaceLabels { return pl.NamespaceLabels }

// stateFrom returns the PreFilter state, or nil if PreFilter skipped.
func stateFrom(state *framework.CycleState) *preFilterState {
	v, ok := state.Read(preFilterKey)
	if !ok {
		return nil
	}
	return v.(*preFilterState)
}

// nodesFrom returns every node of the cycle, which PreFilter kept for
// PreScore (that sees only the feasible ones).
func nodesFrom(state *framework.CycleState) []*framework.NodeInfo {
	v, ok := state.Read(allNodesKey)
	if !ok {
		return nil
	}
	return v.([]*framework.NodeInfo)
}
