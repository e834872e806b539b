package noderesources

import (
	"context"
	"math"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// BalancedName is upstream's name of the balanced-allocation plugin.
const BalancedName = "NodeResourcesBalancedAllocation"

const balancedPreScoreKey = "PreScore" + BalancedName

// BalancedAllocation prefers nodes whose cpu and memory would be used in
// the same proportion once the pod is placed, so that neither runs out
// while the other idles.
type BalancedAllocation struct{}

// Name returns the plugin name.
func (BalancedAllocation) Name() string { return BalancedName }

// Weight is upstream's default-profile weight.
func (BalancedAllocation) Weight() int64 { return 1 }

// PreScore computes the pod's actual requests; a pod that requests
// nothing cannot unbalance a node and skips scoring, as upstream.
func (BalancedAllocation) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	r := framework.PodRequests(pod)
	if r.MilliCPU == 0 && r.Memory == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(balancedPreScoreKey, &r)
	return nil
}

// Score is 100 * (1 - std) of the cpu and memory fractions.
func (BalancedAllocation) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	var req framework.Resource
	if v, ok := state.Read(balancedPreScoreKey); ok {
		req = *v.(*framework.Resource)
	} else {
		req = framework.PodRequests(pod)
	}
	used := &node.Requested
	var buf [2]float64 // on the stack: Score runs for every node
	fractions := buf[:0]
	if a := node.Allocatable.MilliCPU; a != 0 {
		fractions = append(fractions, math.Min(float64(used.MilliCPU+req.MilliCPU)/float64(a), 1))
	}
	if a := node.Allocatable.Memory; a != 0 {
		fractions = append(fractions, math.Min(float64(used.Memory+req.Memory)/float64(a), 1))
	}
	return balancedScore(fractions), nil
}

func balancedScore(fractions []float64) int64 {
	std := 0.0
	switch n := len(fractions); {
	case n == 2:
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	case n > 2:
		var total float64
		for _, f := range fractions {
			total += f
		}
		mean := total / float64(n)
		var sum float64
		for _, f := range fractions {
			sum += (f - mean) * (f - mean)
		}
		std = math.Sqrt(sum / float64(n))
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}
