package podgc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func everything() labels.Selector { return labels.Everything() }

func isTerminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// gcTerminated deletes the terminated pods above the threshold, evicted
// first, then oldest first.
func (c *Controller) gcTerminated(ctx context.Context, pods []*corev1.Pod) error {
	var terminated []*corev1.Pod
	for _, p := range pods {
		if isTerminated(p) {
			terminated = append(terminated, p)
		}
	}
	n := len(terminated) - c.cfg.TerminatedPodThreshold
	if n <= 0 {
		return nil
	}
	c.log.Info("garbage collecting pods", "numPods", n)
	slices.SortFunc(terminated, byEvictionAndCreation)
	return c.deleteAll(ctx, terminated[:n], nil)
}

// byEvictionAndCreation orders evicted pods first, then by creation, then
// by name, as upstream.
func byEvictionAndCreation(a, b *corev1.Pod) int {
	ae, be := isEvicted(a), isEvicted(b)
	switch {
	case ae && !be:
		return -1
	case be && !ae:
		return 1
	}
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return strings.Compare(a.Name, b.Name)
}

func isEvicted(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "Evicted"
}

// gcTerminating force-deletes terminating pods on not-Ready nodes with the
// out-of-service taint: their kubelet will not finish them.
func (c *Controller) gcTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var doomed []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp == nil || p.Spec.NodeName == "" {
			continue
		}
		node, err := c.nodes.Get(p.Spec.NodeName)
		if err != nil {
			continue
		}
		if !nodeReady(node) && slices.ContainsFunc(node.Spec.Taints, func(t corev1.Taint) bool { return t.Key == corev1.TaintNodeOutOfService }) {
			doomed = append(doomed, p)
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	c.log.Info("garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service", "numPods", len(doomed))
	slices.SortFunc(doomed, byEvictionAndCreation)
	return c.deleteAll(ctx, doomed, nil)
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// gcOrphaned deletes pods bound to nodes confirmed gone.
func (c *Controller) gcOrphaned(ctx context.Context, pods []*corev1.Pod, nodes []*corev1.Node) error {
	existing := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		existing[n.Name] = true
	}
	gone, err := c.deletedNodes(ctx, pods, existing)
	var orphans []*corev1.Pod
	for _, p := range pods {
		if gone[p.Spec.NodeName] {
			orphans = append(orphans, p)
		}
	}
	if len(orphans) > 0 {
		c.log.Info("garbage collecting orphaned pods", "numPods", len(orphans))
	}
	cond := &corev1.PodCondition{
		Type:    corev1.DisruptionTarget,
		Status:  corev1.ConditionTrue,
		Reason:  "DeletionByPodGC",
		Message: "PodGC: node no longer exists",
	}
	return errors.Join(err, c.deleteAll(ctx, orphans, cond))
}

// deletedNodes returns the nodes pods name that have been missing from the
// cache for the quarantine period and that the API confirms are gone.
func (c *Controller) deletedNodes(ctx context.Context, pods []*corev1.Pod, existing map[string]bool) (map[string]bool, error) {
	now := c.clock.Now()
	named := map[string]bool{}
	var due []string
	c.mu.Lock()
	for _, p := range pods {
		name := p.Spec.NodeName
		if name == "" || existing[name] || named[name] {
			continue
		}
		named[name] = true
		since, ok := c.missingSince[name]
		if !ok {
			c.missingSince[name] = now
			continue
		}
		if now.Sub(since) >= quarantine {
			due = append(due, name)
		}
	}
	for name := range c.missingSince {
		if !named[name] {
			delete(c.missingSince, name)
		}
	}
	c.mu.Unlock()
	gone := map[string]bool{}
	var errs []error
	for _, name := range due {
		_, err := c.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			gone[name] = true
		case err != nil:
			errs = append(errs, fmt.Errorf("get node %s: %w", name, err))
		default:
			// It exists: the cache is behind.
			c.mu.Lock()
			delete(c.missingSince, name)
			c.mu.Unlock()
		}
	}
	return gone, errors.Join(errs...)
}

// gcUnscheduledTerminating deletes terminating pods never bound to a node.
func (c *Controller) gcUnscheduledTerminating(ctx context.Context, pods []*corev1.Pod) error {
	var doomed []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil && p.Spec.NodeName == "" {
			doomed = append(doomed, p)
		}
	}
	if len(doomed) > 0 {
		c.log.Info("garbage collecting unscheduled terminating pods", "numPods", len(doomed))
	}
	return c.deleteAll(ctx, doomed, nil)
}

// deleteAll deletes pods in parallel, as upstream.
func (c *Controller) deleteAll(ctx context.Context, pods []*corev1.Pod, cond *corev1.PodCondition) error {
	var wg sync.WaitGroup
	errs := make([]error, len(pods))
	for i, p := range pods {
		wg.Go(func() { errs[i] = c.markFailedAndDelete(ctx, p, cond) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// markFailedAndDelete moves a pod that is not terminated to phase Failed
// (with cond, if any), since no kubelet will, and force-deletes it.
func (c *Controller) markFailedAndDelete(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition) error {
	c.log.Info("PodGC is force deleting Pod", "pod", pod.Namespace+"/"+pod.Name)
	if !isTerminated(pod) {
		status := map[string]any{"phase": corev1.PodFailed}
		if cond != nil {
			cc := *cond
			cc.LastTransitionTime = metav1.NewTime(c.clock.Now())
			status["conditions"] = []corev1.PodCondition{cc}
		}
		body, err := jsonPatch(pod.UID, status)
		if err != nil {
			return err
		}
		_, err = c.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, body, metav1.PatchOptions{}, "status")
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark pod %s/%s failed: %w", pod.Namespace, pod.Name, err)
		}
	}
	uid := pod.UID
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
