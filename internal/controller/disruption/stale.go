package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// StalePodDisruptionTimeout is how long a pod may carry the condition
// DisruptionTarget=True without being deleted before the controller
// clears it, as upstream: an eviction that marked the pod and then failed
// to delete it must not leave it looking doomed.
const StalePodDisruptionTimeout = 2 * time.Minute

// staleDisruptionIn says whether the pod carries a DisruptionTarget=True
// condition that may go stale, and how long until it does. Conditions the
// kubelet sets, and those of pods being deleted or finished, never do.
func (c *Controller) staleDisruptionIn(pod *corev1.Pod, now time.Time) (time.Duration, bool) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	for _, cond := range pod.Status.Conditions {
		if cond.Type != corev1.DisruptionTarget {
			continue
		}
		if cond.Status != corev1.ConditionTrue || cond.Reason == corev1.PodReasonTerminationByKubelet {
			return 0, false
		}
		return max(StalePodDisruptionTimeout-now.Sub(cond.LastTransitionTime.Time), 0), true
	}
	return 0, false
}

// watchStale queues a pod whose disruption condition will go stale, for
// when it does.
func (c *Controller) watchStale(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if wait, ok := c.staleDisruptionIn(pod, c.clock.Now()); ok {
		if key, err := cache.MetaNamespaceKeyFunc(pod); err == nil {
			c.stale.AddAfter(key, wait)
		}
	}
}

// syncStale sets a stale DisruptionTarget condition to False.
func (c *Controller) syncStale(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	wait, ok := c.staleDisruptionIn(pod, c.clock.Now())
	if !ok {
		return nil
	}
	if wait > 0 {
		c.stale.AddAfter(key, wait)
		return nil
	}
	next := pod.DeepCopy()
	for i := range next.Status.Conditions {
		if cond := &next.Status.Conditions[i]; cond.Type == corev1.DisruptionTarget {
			cond.Status, cond.Reason, cond.Message = corev1.ConditionFalse, "", ""
			cond.LastTransitionTime = metav1.NewTime(c.clock.Now())
		}
	}
	_, err = c.client.CoreV1().Pods(namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{FieldManager: "DisruptionController"})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
