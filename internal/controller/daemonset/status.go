package daemonset

import (
	"context"
	"fmt"
	"slices"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

// updateStatus counts, over the nodes that should run the pod, how many
// have one, how many of those (the oldest on each node) are ready,
// available and updated, and how many pods run where they should not.
func (c *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string, observe bool) error {
	byNode, err := c.nodeToPods(ctx, ds, false)
	if err != nil {
		return err
	}
	generation, _ := templateGeneration(ds)
	now := metav1.Time{Time: c.clock.Now()}
	var st appsv1.DaemonSetStatus
	for _, node := range nodes {
		run, _ := shouldRun(node, ds)
		pods := byNode[node.Name]
		if !run {
			if len(pods) > 0 {
				st.NumberMisscheduled++
			}
			continue
		}
		st.DesiredNumberScheduled++
		if len(pods) == 0 {
			continue
		}
		st.CurrentNumberScheduled++
		slices.SortFunc(pods, byAge)
		pod := pods[0]
		if podutils.IsPodReady(pod) {
			st.NumberReady++
			if podutils.IsPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
		}
		if isUpdated(pod, hash, generation) {
			st.UpdatedNumberScheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	if err := c.storeStatus(ctx, ds, st, observe); err != nil {
		return err
	}
	// Pods become available minReadySeconds after ready: look again then.
	if ds.Spec.MinReadySeconds > 0 && st.NumberReady != st.NumberAvailable {
		c.enqueueAfter(ds, secondsDuration(ds.Spec.MinReadySeconds))
	}
	return nil
}

// storeStatus writes the counts unless nothing changed, retrying once on
// a conflict with a fresh copy, as upstream.
func (c *Controller) storeStatus(ctx context.Context, ds *appsv1.DaemonSet, st appsv1.DaemonSetStatus, observe bool) error {
	same := func(s appsv1.DaemonSetStatus) bool {
		return s.DesiredNumberScheduled == st.DesiredNumberScheduled && s.CurrentNumberScheduled == st.CurrentNumberScheduled &&
			s.NumberMisscheduled == st.NumberMisscheduled && s.NumberReady == st.NumberReady &&
			s.UpdatedNumberScheduled == st.UpdatedNumberScheduled && s.NumberAvailable == st.NumberAvailable &&
			s.NumberUnavailable == st.NumberUnavailable
	}
	if same(ds.Status) && ds.Status.ObservedGeneration >= ds.Generation {
		return nil
	}
	client := c.client.AppsV1().DaemonSets(ds.Namespace)
	toUpdate := ds.DeepCopy()
	for attempt := 0; ; attempt++ {
		if observe {
			toUpdate.Status.ObservedGeneration = ds.Generation
		}
		toUpdate.Status.DesiredNumberScheduled = st.DesiredNumberScheduled
		toUpdate.Status.CurrentNumberScheduled = st.CurrentNumberScheduled
		toUpdate.Status.NumberMisscheduled = st.NumberMisscheduled
		toUpdate.Status.NumberReady = st.NumberReady
		toUpdate.Status.UpdatedNumberScheduled = st.UpdatedNumberScheduled
		toUpdate.Status.NumberAvailable = st.NumberAvailable
		toUpdate.Status.NumberUnavailable = st.NumberUnavailable
		_, err := client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt > 0 {
			return fmt.Errorf("updating status of daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		fresh, getErr := client.Get(ctx, ds.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("updating status of daemon set %s/%s: %w", ds.Namespace, ds.Name, err)
		}
		toUpdate = fresh
	}
}
