package nodelifecycle

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// markPodsNotReady sets the Ready condition of every pod on node to False,
// as upstream's MarkPodsNotReady: the kubelet that would do it is gone,
// and endpoints must stop sending traffic there.
func (c *Controller) markPodsNotReady(ctx context.Context, nodeName string) error {
	objs, err := c.pods.ByIndex(nodeNameIndex, nodeName)
	if err != nil {
		return err
	}
	var errs []error
	now := metav1.NewTime(c.clock.Now())
	for _, obj := range objs {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName != nodeName {
			continue
		}
		i := podReadyIndex(pod)
		if i < 0 || pod.Status.Conditions[i].Status == corev1.ConditionFalse {
			continue
		}
		pod = pod.DeepCopy()
		cond := &pod.Status.Conditions[i]
		cond.Status = corev1.ConditionFalse
		cond.LastTransitionTime = now
		c.log.Info("updating ready status of pod to false", "pod", pod.Namespace+"/"+pod.Name, "node", nodeName)
		if _, err := c.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", pod.Namespace, pod.Name, err))
			continue
		}
		c.recorder.Event(pod, corev1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("marking pods not ready on node %s: %w", nodeName, err)
	}
	return nil
}

func podReadyIndex(pod *corev1.Pod) int {
	for i, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return i
		}
	}
	return -1
}
