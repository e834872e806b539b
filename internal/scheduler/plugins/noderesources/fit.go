package noderesources

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// FitName is upstream's name of the fit plugin.
const FitName = "NodeResourcesFit"

const (
	fitPreFilterKey = "PreFilter" + FitName
	fitPreScoreKey  = "PreScore" + FitName
)

// Fit is the NodeResourcesFit plugin.
type Fit struct{}

// Name returns the plugin name.
func (Fit) Name() string { return FitName }

// Weight is upstream's default-profile weight.
func (Fit) Weight() int64 { return 1 }

// PreFilter computes the pod's requests once per cycle.
func (Fit) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	r := framework.PodRequests(pod)
	state.Write(fitPreFilterKey, &r)
	return nil
}

// Insufficient is one resource the node lacks.
type Insufficient struct {
	Resource corev1.ResourceName
	Reason   string
	// Unresolvable: the node could not hold the pod even empty, so
	// preemption there is pointless.
	Unresolvable bool
}

// Filter rejects nodes without room for the pod's requests, listing every
// resource that is short, as upstream does.
func (Fit) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	var req framework.Resource
	if v, ok := state.Read(fitPreFilterKey); ok {
		req = *v.(*framework.Resource)
	} else {
		req = framework.PodRequests(pod)
	}
	short := Fits(&req, node)
	if len(short) == 0 {
		return nil
	}
	st := framework.NewStatus(framework.Unschedulable)
	for _, s := range short {
		st.Reasons = append(st.Reasons, s.Reason)
		if s.Unresolvable {
			st.Code = framework.UnschedulableAndUnresolvable
		}
	}
	return st
}

// Fits lists what node lacks to take a pod requesting req.
// It allocates nothing when the pod fits: it runs for every node of
// every cycle.
func Fits(req *framework.Resource, node *framework.NodeInfo) []Insufficient {
	var out []Insufficient
	alloc, used := &node.Allocatable, &node.Requested
	if int64(len(node.Pods))+1 > alloc.AllowedPodNumber {
		out = append(out, Insufficient{Resource: corev1.ResourcePods, Reason: "Too many pods"})
	}
	out = check(out, corev1.ResourceCPU, req.MilliCPU, alloc.MilliCPU, used.MilliCPU)
	out = check(out, corev1.ResourceMemory, req.Memory, alloc.Memory, used.Memory)
	out = check(out, corev1.ResourceEphemeralStorage, req.EphemeralStorage, alloc.EphemeralStorage, used.EphemeralStorage)
	for name, want := range req.Scalar {
		out = check(out, name, want, alloc.Scalar[name], used.Scalar[name])
	}
	return out
}

func check(out []Insufficient, name corev1.ResourceName, want, have, inUse int64) []Insufficient {
	if want > 0 && want > have-inUse {
		out = append(out, Insufficient{Resource: name, Reason: fmt.Sprintf("Insufficient %s", name), Unresolvable: want > have})
	}
	return out
}

// PreScore computes the pod's requests with upstream's scoring defaults
// (100m cpu, 200Mi memory for containers that ask for none).
func (Fit) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	r := framework.NonZeroRequests(pod)
	state.Write(fitPreScoreKey, &r)
	return nil
}

// Score is LeastAllocated over cpu and memory, weight 1 each: the more
// room left after placing the pod, the higher.
func (Fit) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	var req framework.Resource
	if v, ok := state.Read(fitPreScoreKey); ok {
		req = *v.(*framework.Resource)
	} else {
		req = framework.NonZeroRequests(pod)
	}
	used := &node.NonZeroRequested
	var sum, weights int64
	for _, r := range [][2]int64{
		{used.MilliCPU + req.MilliCPU, node.Allocatable.MilliCPU},
		{used.Memory + req.Memory, node.Allocatable.Memory},
	} {
		if r[1] == 0 {
			continue
		}
		sum += leastRequested(r[0], r[1])
		weights++
	}
	if weights == 0 {
		return 0, nil
	}
	return sum / weights, nil
}

func leastRequested(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}
