package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/podutils"
)

func (c *Controller) available(pod *corev1.Pod, minReadySeconds int32) bool {
	return podutils.IsPodAvailable(pod, minReadySeconds, metav1.Time{Time: c.clock.Now()})
}

// countStatus sets the replica counts of status from the pod lists:
// created, ready, available, and those at the current and update
// revisions (terminating pods count for neither).
func (c *Controller) countStatus(status *appsv1.StatefulSetStatus, minReadySeconds int32, cur, upd *appsv1.ControllerRevision, lists ...[]*corev1.Pod) {
	status.Replicas, status.ReadyReplicas, status.AvailableReplicas = 0, 0, 0
	status.CurrentReplicas, status.UpdatedReplicas = 0, 0
	for _, pods := range lists {
		for _, p := range pods {
			if isCreated(p) {
				status.Replicas++
			}
			if isRunningAndReady(p) {
				status.ReadyReplicas++
				if c.available(p, minReadySeconds) {
					status.AvailableReplicas++
				}
			}
			if isCreated(p) && !isTerminating(p) {
				switch rev := revisionOf(p); {
				case rev == cur.Name && rev == upd.Name:
					status.CurrentReplicas++
					status.UpdatedReplicas++
				case rev == cur.Name:
					status.CurrentReplicas++
				case rev == upd.Name:
					status.UpdatedReplicas++
				}
			}
		}
	}
}

// storeStatus completes a finished rolling update (every replica updated
// and ready: the update revision becomes current) and writes status if
// it differs from the set's.
func (c *Controller) storeStatus(ctx context.Context, set *appsv1.StatefulSet, status *appsv1.StatefulSetStatus) error {
	if set.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType &&
		status.UpdatedReplicas == status.Replicas && status.ReadyReplicas == status.Replicas {
		status.CurrentReplicas = status.UpdatedReplicas
		status.CurrentRevision = status.UpdateRevision
	}
	if !inconsistent(set, status) {
		return nil
	}
	client := c.client.AppsV1().StatefulSets(set.Namespace)
	toUpdate := set.DeepCopy()
	for attempt := 0; ; attempt++ {
		conditions := toUpdate.Status.Conditions
		toUpdate.Status = *status
		toUpdate.Status.Conditions = conditions
		_, err := client.UpdateStatus(ctx, toUpdate, metav1.UpdateOptions{})
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || attempt >= 3 {
			return fmt.Errorf("updating status of stateful set %s/%s: %w", set.Namespace, set.Name, err)
		}
		fresh, getErr := client.Get(ctx, set.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("updating status of stateful set %s/%s: %w", set.Namespace, set.Name, err)
		}
		toUpdate = fresh
	}
}

func inconsistent(set *appsv1.StatefulSet, s *appsv1.StatefulSetStatus) bool {
	o := set.Status
	cc := func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	}
	return s.ObservedGeneration > o.ObservedGeneration || s.Replicas != o.Replicas ||
		s.CurrentReplicas != o.CurrentReplicas || s.ReadyReplicas != o.ReadyReplicas ||
		s.UpdatedReplicas != o.UpdatedReplicas || s.AvailableReplicas != o.AvailableReplicas ||
		s.CurrentRevision != o.CurrentRevision || s.UpdateRevision != o.UpdateRevision ||
		cc(s.CollisionCount) != cc(o.CollisionCount) || (o.CollisionCount == nil) != (s.CollisionCount == nil)
}
