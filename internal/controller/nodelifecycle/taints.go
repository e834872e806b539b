package nodelifecycle

import (
	"context"
	"encoding/json"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// noScheduleKeys are the NoSchedule taints the controller owns: one per
// condition state the scheduler must avoid, as upstream's
// nodeConditionToTaintKeyStatusMap, plus spec.unschedulable.
var noScheduleKeys = []string{
	corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable, corev1.TaintNodeMemoryPressure,
	corev1.TaintNodeDiskPressure, corev1.TaintNodeNetworkUnavailable, corev1.TaintNodePIDPressure,
	corev1.TaintNodeUnschedulable,
}

// noExecuteKeys are the NoExecute taints the controller owns.
var noExecuteKeys = []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable}

// wantNoSchedule lists the NoSchedule taint keys node's conditions call for.
func wantNoSchedule(node *corev1.Node) []string {
	var want []string
	for _, cond := range node.Status.Conditions {
		switch {
		case cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionFalse:
			want = append(want, corev1.TaintNodeNotReady)
		case cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionUnknown:
			want = append(want, corev1.TaintNodeUnreachable)
		case cond.Type == corev1.NodeMemoryPressure && cond.Status == corev1.ConditionTrue:
			want = append(want, corev1.TaintNodeMemoryPressure)
		case cond.Type == corev1.NodeDiskPressure && cond.Status == corev1.ConditionTrue:
			want = append(want, corev1.TaintNodeDiskPressure)
		case cond.Type == corev1.NodeNetworkUnavailable && cond.Status == corev1.ConditionTrue:
			want = append(want, corev1.TaintNodeNetworkUnavailable)
		case cond.Type == corev1.NodePIDPressure && cond.Status == corev1.ConditionTrue:
			want = append(want, corev1.TaintNodePIDPressure)
		}
	}
	if node.Spec.Unschedulable {
		want = append(want, corev1.TaintNodeUnschedulable)
	}
	return want
}

// managed is one effect's controller-owned taint keys, and which of them
// a node should have.
type managed struct {
	effect corev1.TaintEffect
	keys   []string
	want   func(*corev1.Node) []string
}

var noScheduleSet = managed{corev1.TaintEffectNoSchedule, noScheduleKeys, wantNoSchedule}

// syncNoScheduleTaints makes node name's NoSchedule taints follow its
// conditions (upstream's doNoScheduleTaintingPass).
func (c *Controller) syncNoScheduleTaints(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.setTaints(ctx, node, noScheduleSet)
}

// syncTaints sets, in one write, the NoSchedule taints node's conditions
// call for and the NoExecute taint its Ready status calls for: none when
// it is Ready or when every node is down (upstream's
// doNoExecuteTaintingPass and markNodeAsReachable). One write, right
// after the status one, so that a client seeing the node NotReady sees
// its taints too.
func (c *Controller) syncTaints(ctx context.Context, node *corev1.Node, ready corev1.ConditionStatus, allDown bool) error {
	var want []string
	switch {
	case allDown, ready == corev1.ConditionTrue:
	case ready == corev1.ConditionFalse:
		want = []string{corev1.TaintNodeNotReady}
	default:
		want = []string{corev1.TaintNodeUnreachable}
	}
	noExecute := managed{corev1.TaintEffectNoExecute, noExecuteKeys, func(*corev1.Node) []string { return want }}
	return c.setTaints(ctx, node, noScheduleSet, noExecute)
}

// setTaints makes node's taints of each managed set exactly those it
// wants, keeping the timeAdded of those already there. It patches
// spec.taints with the resourceVersion it read, and on conflict rereads
// the node and decides again.
func (c *Controller) setTaints(ctx context.Context, node *corev1.Node, sets ...managed) error {
	if !needsChange(node, sets) {
		return nil
	}
	first := true
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		if !first {
			fresh, err := c.client.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			node = fresh
		}
		first = false
		if !needsChange(node, sets) {
			return nil
		}
		now := metav1.NewTime(c.clock.Now())
		taints := slices.Clone(node.Spec.Taints)
		for _, set := range sets {
			want := set.want(node)
			taints = slices.DeleteFunc(taints, func(t corev1.Taint) bool {
				return t.Effect == set.effect && slices.Contains(set.keys, t.Key) && !slices.Contains(want, t.Key)
			})
			for _, key := range want {
				if !hasTaint(taints, key, set.effect) {
					taints = append(taints, corev1.Taint{Key: key, Effect: set.effect, TimeAdded: &now})
				}
			}
		}
		if taints == nil {
			taints = []corev1.Taint{}
		}
		patch := map[string]any{
			"metadata": map[string]any{"resourceVersion": node.ResourceVersion},
			"spec":     map[string]any{"taints": taints},
		}
		body, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		_, err = c.client.CoreV1().Nodes().Patch(ctx, node.Name, types.MergePatchType, body, metav1.PatchOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			c.log.Info("node taints updated", "node", node.Name, "taints", taintStrings(taints))
		}
		return err
	})
}

func needsChange(node *corev1.Node, sets []managed) bool {
	for _, set := range sets {
		want := set.want(node)
		for _, t := range node.Spec.Taints {
			if t.Effect == set.effect && slices.Contains(set.keys, t.Key) && !slices.Contains(want, t.Key) {
				return true
			}
		}
		for _, key := range want {
			if !hasTaint(node.Spec.Taints, key, set.effect) {
				return true
			}
		}
	}
	return false
}

func taintStrings(taints []corev1.Taint) []string {
	out := make([]string, len(taints))
	for i, t := range taints {
		out[i] = t.ToString()
	}
	return out
}

func hasTaint(taints []corev1.Taint, key string, effect corev1.TaintEffect) bool {
	return slices.ContainsFunc(taints, func(t corev1.Taint) bool { return t.Key == key && t.Effect == effect })
}
