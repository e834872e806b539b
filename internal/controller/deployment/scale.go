package deployment

import (
	"context"
	"fmt"
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scale resizes the ReplicaSets after the Deployment was resized. With
// one active ReplicaSet it simply gets the new size; mid-rollout every
// active ReplicaSet grows or shrinks in proportion to its share, so that
// the rollout keeps its shape (upstream's proportional scaling).
func (c *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if target := activeOrLatest(newRS, old); target != nil {
		if rsReplicas(target) == specReplicas(d) {
			return nil
		}
		_, _, err := c.scaleAndRecord(ctx, target, specReplicas(d), d)
		return err
	}
	if isSaturated(d, newRS) {
		// The new ReplicaSet is complete: whatever old ones were adopted
		// meanwhile go.
		for _, rs := range active(old) {
			if _, _, err := c.scaleAndRecord(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	allowed := int32(0)
	if specReplicas(d) > 0 {
		allowed = specReplicas(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpec(all)
	op := ""
	switch {
	case toAdd > 0:
		sort.Sort(bySize{rss: all, newer: true})
		op = "up"
	case toAdd < 0:
		sort.Sort(bySize{rss: all, newer: false})
		op = "down"
	}
	added := int32(0)
	sizes := make([]int32, len(all))
	for i, rs := range all {
		sizes[i] = rsReplicas(rs)
		if toAdd != 0 {
			p := proportion(rs, d, toAdd, added)
			sizes[i] += p
			added += p
		}
	}
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			// Rounding leftovers go to the largest.
			sizes[i] = max(sizes[i]+toAdd-added, 0)
		}
		if _, _, err := c.scaleRS(ctx, rs, sizes[i], d, op); err != nil {
			return err
		}
	}
	return nil
}

// activeOrLatest is the only active ReplicaSet, or the newest if none is
// active; nil if several are.
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(old) == 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), old...)
	sort.Sort(sort.Reverse(byCreation(sorted)))
	all := active(append(sorted, newRS))
	switch len(all) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return sorted[0]
	case 1:
		return all[0]
	}
	return nil
}

// isSaturated: the new ReplicaSet has, wants and was sized for all the
// Deployment's replicas, and all are available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	desired, ok := intAnnotation(rs, desiredReplicasAnnotation)
	return ok && rsReplicas(rs) == specReplicas(d) && desired == specReplicas(d) && rs.Status.AvailableReplicas == specReplicas(d)
}

// proportion is rs's share of toAdd, bounded by what is left to add.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if rsReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(rs, d)
	allowed := toAdd - added
	if toAdd > 0 {
		return min(f, allowed)
	}
	return max(f, allowed)
}

// fraction is how much rs should change for its size to keep its share
// of the Deployment: its size was for max-replicas total, now the total
// is replicas+maxSurge.
func fraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if specReplicas(d) == 0 {
		return -rsReplicas(rs)
	}
	total := specReplicas(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, maxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(rsReplicas(rs)*total) / float64(annotated)
	return int32(math.Round(size)) - rsReplicas(rs)
}

// scaleAndRecord sets rs's size and reports it as a ScalingReplicaSet
// event; the bool says whether the size changed.
func (c *Controller) scaleAndRecord(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment) (bool, *appsv1.ReplicaSet, error) {
	if rsReplicas(rs) == size {
		return false, rs, nil
	}
	op := "down"
	if rsReplicas(rs) < size {
		op = "up"
	}
	return c.scaleRS(ctx, rs, size, d, op)
}

// scaleRS writes rs's size and the replica annotations for the
// Deployment's current size.
func (c *Controller) scaleRS(ctx context.Context, rs *appsv1.ReplicaSet, size int32, d *appsv1.Deployment, op string) (bool, *appsv1.ReplicaSet, error) {
	resize := rsReplicas(rs) != size
	maxReplicas := specReplicas(d) + maxSurge(d)
	if !resize && !replicasAnnotationsNeedUpdate(rs, specReplicas(d), maxReplicas) {
		return false, rs, nil
	}
	from := rsReplicas(rs)
	cp := rs.DeepCopy()
	cp.Spec.Replicas = &size
	setReplicasAnnotations(cp, specReplicas(d), maxReplicas)
	updated, err := c.client.AppsV1().ReplicaSets(cp.Namespace).Update(ctx, cp, metav1.UpdateOptions{})
	if err != nil {
		return false, rs, fmt.Errorf("scaling replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if resize {
		c.recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, from, size)
	}
	return resize, updated, nil
}
