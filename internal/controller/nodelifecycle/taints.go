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
	return c.setTaints(ctx, node, corev1.TaintEffectNoSchedule, noScheduleKeys, wantNoSchedule)
}

// syncNoExecuteTaints puts the NoExecute taint that node's Ready status
// calls for, or none when it is Ready or when every node is down
// (upstream's doNoExecuteTaintingPass and markNodeAsReachable).
func (c *Controller) syncNoExecuteTaints(ctx context.Context, node *corev1.Node, ready corev1.ConditionStatus, allDown bool) error {
	var want []string
	switch {
	case allDown, ready == corev1.ConditionTrue:
	case ready == corev1.ConditionFalse:
		want = []string{corev1.TaintNodeNotReady}
	default:
		want = []string{corev1.TaintNodeUnreachable}
	}
	return c.setTaints(ctx, node, corev1.TaintEffectNoExecute, noExecuteKeys, func(*corev1.Node) []string { return want })
}

// setTaints makes the taints of one effect among keys exactly those
// wantFor(node) lists, keeping the timeAdded of those already there. It
// patches spec.taints with the resourceVersion it read, and on conflict
// rereads the node and decides again.
func (c *Controller) setTaints(ctx context.Context, node *corev1.Node, effect corev1.TaintEffect, keys []string, wantFor func(*corev1.Node) []string) error {
	if !needsChange(node.Spec.Taints, effect, keys, wantFor(node)) {
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
		want := wantFor(node)
		if !needsChange(node.Spec.Taints, effect, keys, want) {
			return nil
		}
		now := metav1.NewTime(c.clock.Now())
		taints := slices.DeleteFunc(slices.Clone(node.Spec.Taints), func(t corev1.Taint) bool {
			return t.Effect == effect && slices.Contains(keys, t.Key) && !slices.Contains(want, t.Key)
		})
		for _, key := range want {
			if !hasTaint(taints, key, effect) {
				taints = append(taints, corev1.Taint{Key: key, Effect: effect, TimeAdded: &now})
			}
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
			c.log.Info("node taints updated", "node", node.Name, "effect", effect, "taints", want)
		}
		return err
	})
}

func needsChange(taints []corev1.Taint, effect corev1.TaintEffect, keys, want []string) bool {
	for _, t := range taints {
		if t.Effect == effect && slices.Contains(keys, t.Key) && !slices.Contains(want, t.Key) {
			return true
		}
	}
	for _, key := range want {
		if !hasTaint(taints, key, effect) {
			return true
		}
	}
	return false
}

func hasTaint(taints []corev1.Taint, key string, effect corev1.TaintEffect) bool {
	return slices.ContainsFunc(taints, func(t corev1.Taint) bool { return t.Key == key && t.Effect == effect })
}
