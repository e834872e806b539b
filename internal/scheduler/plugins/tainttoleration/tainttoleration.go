package tainttoleration

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "TaintToleration"

const preScoreKey = "PreScore" + Name

// TaintToleration is the plugin.
type TaintToleration struct{}

// Name returns the plugin name.
func (TaintToleration) Name() string { return Name }

// Weight is upstream's default-profile weight.
func (TaintToleration) Weight() int64 { return 3 }

// Filter rejects a node whose NoSchedule/NoExecute taints the pod does not
// all tolerate, naming the first such taint as upstream does.
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	for i := range node.Node.Spec.Taints {
		t := &node.Node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectNoSchedule && t.Effect != corev1.TaintEffectNoExecute {
			continue
		}
		if !tolerates(pod.Spec.Tolerations, t) {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable,
				fmt.Sprintf("node(s) had untolerated taint {%s: %s}", t.Key, t.Value))
		}
	}
	return nil
}

// PreScore keeps the tolerations that matter for PreferNoSchedule.
func (TaintToleration) PreScore(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	var tols []corev1.Toleration
	for _, t := range pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == corev1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	state.Write(preScoreKey, tols)
	return nil
}

// Score counts the node's untolerated PreferNoSchedule taints; fewer is
// better, which NormalizeScore turns around.
func (TaintToleration) Score(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) (int64, *framework.Status) {
	tols := pod.Spec.Tolerations
	if v, ok := state.Read(preScoreKey); ok {
		tols = v.([]corev1.Toleration)
	}
	var n int64
	for i := range node.Node.Spec.Taints {
		t := &node.Node.Spec.Taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule && !tolerates(tols, t) {
			n++
		}
	}
	return n, nil
}

// NormalizeScore maps counts to 0..100, most taints lowest.
func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *corev1.Pod, scores []framework.NodeScore) *framework.Status {
	framework.DefaultNormalizeScore(framework.MaxNodeScore, true, scores)
	return nil
}

func tolerates(tols []corev1.Toleration, t *corev1.Taint) bool {
	for i := range tols {
		if tols[i].ToleratesTaint(logr.Discard(), t, false) {
			return true
		}
	}
	return false
}
