package tainteviction

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// sync decides one pod's fate from its node's NoExecute taints now.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	pod, err := c.pods.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.unschedule(key, nil)
		return nil
	}
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" || pod.DeletionTimestamp != nil {
		c.unschedule(key, nil)
		return nil
	}
	node, err := c.nodes.Get(pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		c.unschedule(key, pod)
		return nil
	}
	if err != nil {
		return err
	}
	now := c.clock.Now()
	c.mu.Lock()
	since, ok := c.scheduled[key]
	c.mu.Unlock()
	if !ok {
		since = now
	}
	wait, evict := evictionDelay(pod, noExecuteTaints(node), since, now)
	switch {
	case !evict:
		c.unschedule(key, pod)
		return nil
	case wait > 0:
		c.mu.Lock()
		if _, ok := c.scheduled[key]; !ok {
			c.scheduled[key] = since
		}
		c.mu.Unlock()
		c.queue.AddAfter(key, wait)
		return nil
	}
	return c.evict(ctx, key, pod)
}

// evictionDelay says whether pod must leave a node with taints, and how
// long it may still stay. A toleration counts from the taint's timeAdded,
// or, for a taint without one, from since, when the eviction was first
// scheduled.
func evictionDelay(pod *corev1.Pod, taints []corev1.Taint, since, now time.Time) (time.Duration, bool) {
	if len(taints) == 0 {
		return 0, false
	}
	var deadline time.Time
	forever := true
	for i := range taints {
		taint := &taints[i]
		seconds, tolerated := tolerationSeconds(pod.Spec.Tolerations, taint)
		if !tolerated {
			return 0, true
		}
		if seconds == math.MaxInt64 {
			continue
		}
		forever = false
		start := since
		if taint.TimeAdded != nil {
			start = taint.TimeAdded.Time
		}
		if start.After(now) {
			start = now
		}
		if seconds < 0 {
			seconds = 0
		}
		d := start.Add(time.Duration(seconds) * time.Second)
		if deadline.IsZero() || d.Before(deadline) {
			deadline = d
		}
	}
	if forever {
		return 0, false
	}
	return max(deadline.Sub(now), 0), true
}

// tolerationSeconds returns how long pod tolerates taint: the shortest
// tolerationSeconds of the tolerations that match it, MaxInt64 when one
// of them has none (forever), and false when none matches.
func tolerationSeconds(tolerations []corev1.Toleration, taint *corev1.Taint) (int64, bool) {
	best, tolerated := int64(math.MaxInt64), false
	for i := range tolerations {
		t := &tolerations[i]
		if !t.ToleratesTaint(logr.Discard(), taint, false) {
			continue
		}
		tolerated = true
		if t.TolerationSeconds != nil && *t.TolerationSeconds < best {
			best = *t.TolerationSeconds
		}
	}
	return best, tolerated
}

// unschedule forgets a pending eviction; if there was one and the pod is
// still here, it says so in an event, as upstream's cancelWorkWithEvent.
func (c *Controller) unschedule(key string, pod *corev1.Pod) {
	c.mu.Lock()
	_, was := c.scheduled[key]
	delete(c.scheduled, key)
	c.mu.Unlock()
	if was && pod != nil {
		c.recorder.Eventf(podRef(pod), corev1.EventTypeNormal, "TaintManagerEviction", "Cancelling deletion of Pod %s", key)
	}
}

// evict marks the pod as a disruption target and deletes it, as upstream's
// addConditionAndDeletePod.
func (c *Controller) evict(ctx context.Context, key string, pod *corev1.Pod) error {
	c.mu.Lock()
	delete(c.scheduled, key)
	c.mu.Unlock()
	c.recorder.Eventf(podRef(pod), corev1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s", key)
	c.log.Info("deleting pod for a NoExecute taint it does not tolerate", "pod", key, "node", pod.Spec.NodeName)
	fresh, err := c.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get pod: %w", err)
	}
	if fresh.UID != pod.UID || fresh.DeletionTimestamp != nil {
		return nil
	}
	if !hasDisruptionTarget(fresh) {
		patch := fmt.Appendf(nil, `{"metadata":{"uid":%q},"status":{"conditions":[{"type":%q,"status":"True","reason":"DeletionByTaintManager","message":"Taint manager: deleting due to NoExecute taint","lastTransitionTime":%q}]}}`,
			fresh.UID, corev1.DisruptionTarget, c.clock.Now().UTC().Format(time.RFC3339))
		if _, err := c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return fmt.Errorf("add DisruptionTarget condition: %w", err)
		}
	}
	uid := fresh.UID
	err = c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete pod: %w", err)
	}
	return nil
}

func hasDisruptionTarget(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func podRef(pod *corev1.Pod) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
}

func noExecuteTaints(node *corev1.Node) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range node.Spec.Taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			out = append(out, t)
		}
	}
	return out
}

func taintEqual(a, b corev1.Taint) bool {
	return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect && a.TimeAdded.Equal(b.TimeAdded)
}
