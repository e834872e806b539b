package daemonset

import (
	"context"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubectl/pkg/util/podutils"

	"mini.dev/mini/internal/controller/owned"
)

// Event reasons, as upstream's.
const (
	reasonSelectingAll     = "SelectingAll"
	reasonFailedDaemonPod  = "FailedDaemonPod"
	reasonSuccessfulCreate = "SuccessfulCreate"
	reasonFailedCreate     = "FailedCreate"
	reasonSuccessfulDelete = "SuccessfulDelete"
	reasonFailedDelete     = "FailedDelete"
)

// sync brings one daemon set's pods, revisions and status in line with
// its spec and the nodes.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting daemon set %s: %w", key, err)
	}
	nodes, err := c.nodeLister.List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	if ds.Spec.Selector == nil || (len(ds.Spec.Selector.MatchLabels) == 0 && len(ds.Spec.Selector.MatchExpressions) == 0) {
		c.recorder.Event(ds, corev1.EventTypeWarning, reasonSelectingAll, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	if ds.DeletionTimestamp != nil {
		return nil
	}
	cur, old, err := c.constructHistory(ctx, ds)
	if err != nil {
		return fmt.Errorf("constructing history of daemon set %s: %w", key, err)
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	if !c.expectations.Satisfied(key) {
		// Only status: observedGeneration must not move before the
		// controller has acted on this generation.
		return c.updateStatus(ctx, ds, nodes, hash, false)
	}
	err = c.manage(ctx, ds, nodes, hash)
	if err == nil && c.expectations.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = c.rollingUpdate(ctx, ds, nodes, hash)
	}
	if err == nil {
		err = c.cleanupHistory(ctx, ds, old)
	}
	// As upstream, the generation counts as observed even if acting on
	// it failed: the failure is retried, and status says what is.
	if statusErr := c.updateStatus(ctx, ds, nodes, hash, true); err == nil {
		err = statusErr
	}
	return err
}

// daemonPods are the pods the set owns after adoption and release.
func (c *Controller) daemonPods(ctx context.Context, ds *appsv1.DaemonSet) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("daemon set selector: %w", err)
	}
	pods, err := c.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	claimer := &owned.Claimer{
		Controller: ds, Kind: controllerKind, Selector: sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, "application/strategic-merge-patch+json", patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: owned.RecheckDeletion(ds, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
		}),
	}
	return owned.Claim(ctx, claimer, pods)
}

// nodeToPods groups the set's pods by the node they are for. Terminal
// pods already being deleted are left out unless withDeletedTerminal:
// kubelet or pod GC is finishing them and they matter to nothing but
// manage's cleanup.
func (c *Controller) nodeToPods(ctx context.Context, ds *appsv1.DaemonSet, withDeletedTerminal bool) (map[string][]*corev1.Pod, error) {
	pods, err := c.daemonPods(ctx, ds)
	if err != nil {
		return nil, err
	}
	out := map[string][]*corev1.Pod{}
	for _, pod := range pods {
		if !withDeletedTerminal && pod.DeletionTimestamp != nil && terminal(pod) {
			continue
		}
		node, err := targetNode(pod)
		if err != nil {
			c.log.Warn("daemon pod has no node", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			continue
		}
		out[node] = append(out[node], pod)
	}
	return out, nil
}

// manage creates daemon pods where they are missing and deletes them
// where they should not run (or are surplus, or failed).
func (c *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodeToPods(ctx, ds, true)
	if err != nil {
		return err
	}
	var create, del []string
	present := map[string]bool{}
	for _, node := range nodes {
		present[node.Name] = true
		cr, dl := c.podsShouldBeOnNode(node, byNode[node.Name], ds, hash)
		create = append(create, cr...)
		del = append(del, dl...)
	}
	// Pods for nodes that are gone: nothing will run or finish them.
	var orphanedBound []*corev1.Pod
	for node, pods := range byNode {
		if present[node] {
			continue
		}
		for _, pod := range pods {
			if pod.DeletionTimestamp != nil {
				continue
			}
			if pod.Spec.NodeName == "" {
				del = append(del, pod.Name)
			} else {
				orphanedBound = append(orphanedBound, pod)
			}
		}
	}
	if err := c.deleteOnMissingNodes(ctx, ds, orphanedBound); err != nil {
		return err
	}
	return c.syncNodes(ctx, ds, del, create, hash)
}

// podsShouldBeOnNode is upstream's verdict for one node: whether a pod
// must be created there, and which of its pods must go.
func (c *Controller) podsShouldBeOnNode(node *corev1.Node, pods []*corev1.Pod, ds *appsv1.DaemonSet, hash string) (create, del []string) {
	run, cont := shouldRun(node, ds)
	switch {
	case run && len(pods) == 0:
		return []string{node.Name}, nil
	case cont:
		var running []*corev1.Pod
		for _, pod := range pods {
			if pod.DeletionTimestamp != nil {
				continue
			}
			switch pod.Status.Phase {
			case corev1.PodFailed:
				// Kubelet may keep rejecting the pod: back off before each
				// replacement instead of fighting it in a hot loop.
				bk := string(ds.UID) + "/" + node.Name
				now := c.clock.Now()
				if c.failedBackoff.IsInBackOffSinceUpdate(bk, now) {
					c.enqueueAfter(ds, c.failedBackoff.Get(bk))
					continue
				}
				c.failedBackoff.Next(bk, now)
				c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedDaemonPod,
					"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node.Name)
				del = append(del, pod.Name)
			case corev1.PodSucceeded:
				del = append(del, pod.Name)
			default:
				running = append(running, pod)
			}
		}
		if len(running) <= 1 {
			return nil, del
		}
		slices.SortFunc(running, byAge)
		if !allowsSurge(ds) {
			for _, pod := range running[1:] {
				del = append(del, pod.Name)
			}
			return nil, del
		}
		// With surge, a node may hold the oldest new pod and the oldest old
		// pod, the old one only while the new one is not yet available.
		var oldestNew, oldestOld *corev1.Pod
		for _, pod := range running {
			if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
				if oldestNew == nil {
					oldestNew = pod
					continue
				}
			} else if oldestOld == nil {
				oldestOld = pod
				continue
			}
			del = append(del, pod.Name)
		}
		if oldestNew != nil && oldestOld != nil {
			if !podReady(oldestOld) || podutils.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, metav1.Time{Time: c.clock.Now()}) {
				del = append(del, oldestOld.Name)
			}
		}
		return nil, del
	case !cont:
		for _, pod := range pods {
			if pod.DeletionTimestamp == nil {
				del = append(del, pod.Name)
			}
		}
	}
	return nil, del
}

// deleteOnMissingNodes removes pods bound to nodes that are gone, as
// upstream's pod GC would: at once (no kubelet is left to confirm a
// graceful deletion). The node's absence is confirmed with the API first:
// our node cache may lag behind a pod just bound to a new node.
func (c *Controller) deleteOnMissingNodes(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod) error {
	gone := map[string]bool{}
	for _, pod := range pods {
		missing, seen := gone[pod.Spec.NodeName]
		if !seen {
			_, err := c.client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("checking node %s: %w", pod.Spec.NodeName, err)
			}
			missing = apierrors.IsNotFound(err)
			gone[pod.Spec.NodeName] = missing
		}
		if !missing {
			continue
		}
		zero := int64(0)
		err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			c.recorder.Eventf(ds, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
			return fmt.Errorf("deleting pod %s/%s of missing node: %w", pod.Namespace, pod.Name, err)
		}
		if err == nil {
			c.recorder.Eventf(ds, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %v", pod.Name)
		}
	}
	return nil
}

func terminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded
}

func podReady(pod *corev1.Pod) bool { return podutils.IsPodReady(pod) }

func secondsDuration(s int32) time.Duration { return time.Duration(s) * time.Second }
