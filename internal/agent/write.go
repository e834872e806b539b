package agent

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// writeStatus patches the pod's status when it differs from what the API
// holds, as kubelet's status manager does: a strategic-merge patch
// computed against the pod the agent last saw, carrying the pod's UID so
// that a new pod of the same name is never written.
func (a *Agent) writeStatus(ctx context.Context, pod *corev1.Pod, status corev1.PodStatus) error {
	if equality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	a.mu.Lock()
	e := a.pods[pod.UID]
	// The API has not caught up with our last write yet: the same
	// status would only be written twice.
	skip := e != nil && e.lastWritten != nil && e.base == pod.ResourceVersion && equality.Semantic.DeepEqual(*e.lastWritten, status)
	a.mu.Unlock()
	if skip {
		return nil
	}
	oldJSON, err := json.Marshal(corev1.Pod{Status: pod.Status})
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	newJSON, err := json.Marshal(corev1.Pod{Status: status})
	if err != nil {
		return fmt.Errorf("encode status: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, corev1.Pod{})
	if err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(patch, &m); err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	m["metadata"] = map[string]any{"uid": pod.UID}
	if patch, err = json.Marshal(m); err != nil {
		return fmt.Errorf("status patch: %w", err)
	}
	if _, err := a.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("patch status of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	a.mu.Lock()
	if e := a.pods[pod.UID]; e != nil {
		e.lastWritten, e.base = &status, pod.ResourceVersion
	}
	a.mu.Unlock()
	return nil
}
