package statefulset

import (
	"context"
	"errors"
	"slices"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// update drives the set's pods one step towards its spec and returns the
// status that results. The order is upstream's: replace failed pods and
// create missing ones (in ordinal order, each Running and Ready before
// the next unless Parallel), then scale down from the highest ordinal,
// then roll the template from the highest ordinal down to the partition.
func (c *Controller) update(ctx context.Context, set *appsv1.StatefulSet, cur, upd *appsv1.ControllerRevision,
	collisions int32, pods []*corev1.Pod) (*appsv1.StatefulSetStatus, error) {
	currentSet, err := applyRevision(set, cur)
	if err != nil {
		return nil, err
	}
	updateSet, err := applyRevision(set, upd)
	if err != nil {
		return nil, err
	}
	status := &appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    cur.Name,
		UpdateRevision:     upd.Name,
		CollisionCount:     &collisions,
	}
	c.countStatus(status, set.Spec.MinReadySeconds, cur, upd, pods)

	start := startOrdinal(set)
	replicaPods := make([]*corev1.Pod, replicas(set))
	var condemned []*corev1.Pod
	for _, p := range pods {
		switch o := ordinal(p); {
		case inOrdinalRange(p, set):
			replicaPods[o-start] = p
		case o >= 0:
			condemned = append(condemned, p)
		}
	}
	for i := range replicaPods {
		if replicaPods[i] == nil {
			replicaPods[i] = newVersionedPod(currentSet, updateSet, cur.Name, upd.Name, start+i)
		}
	}
	// Highest ordinal first: scale-down order.
	slices.SortFunc(condemned, func(a, b *corev1.Pod) int { return ordinal(b) - ordinal(a) })

	var firstUnhealthy *corev1.Pod
	for _, p := range replicaPods {
		if !isHealthy(p) {
			firstUnhealthy = p
			break
		}
	}
	if firstUnhealthy == nil {
		for i := len(condemned) - 1; i >= 0; i-- {
			if !isHealthy(condemned[i]) {
				firstUnhealthy = condemned[i]
				break
			}
		}
	}
	if set.DeletionTimestamp != nil {
		return status, nil
	}
	monotonic := !allowsBurst(set)
	recount := func() { c.countStatus(status, set.Spec.MinReadySeconds, cur, upd, replicaPods, condemned) }

	if exit, err := runForAll(len(replicaPods), monotonic, func(i int) (bool, error) {
		return c.processReplica(ctx, set, cur, upd, currentSet, updateSet, monotonic, replicaPods, i)
	}); exit || err != nil {
		recount()
		return status, err
	}
	if exit, err := runForAll(len(condemned), monotonic, func(i int) (bool, error) {
		match, err := c.claimsMatchRetention(updateSet, condemned[i])
		if err != nil {
			return true, err
		}
		if !match {
			if err := c.updateClaimsForRetention(ctx, updateSet, condemned[i]); err != nil {
				return true, err
			}
		}
		return false, nil
	}); exit || err != nil {
		recount()
		return status, err
	}
	if exit, err := runForAll(len(condemned), monotonic, func(i int) (bool, error) {
		return c.processCondemned(ctx, set, firstUnhealthy, monotonic, condemned, i)
	}); exit || err != nil {
		recount()
		return status, err
	}
	recount()

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return status, nil // pods take the new template when someone deletes them
	}
	updateMin := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		updateMin = int(*ru.Partition)
	}
	for target := len(replicaPods) - 1; target >= updateMin; target-- {
		p := replicaPods[target]
		if revisionOf(p) != upd.Name && !isTerminating(p) {
			c.log.Info("pod is terminating for update", "statefulset", set.Namespace+"/"+set.Name, "pod", p.Name)
			if err := c.deletePod(ctx, set, p); err != nil && !apierrors.IsNotFound(err) {
				return status, err
			}
			status.CurrentReplicas--
			return status, nil
		}
		if !isHealthy(p) {
			return status, nil // wait for the updated pod before the next
		}
	}
	return status, nil
}

// processReplica handles the replica at index i; exit asks to stop this
// round (OrderedReady waits on this pod).
func (c *Controller) processReplica(ctx context.Context, set *appsv1.StatefulSet, cur, upd *appsv1.ControllerRevision,
	currentSet, updateSet *appsv1.StatefulSet, monotonic bool, pods []*corev1.Pod, i int) (exit bool, err error) {
	if isFailed(pods[i]) || isSucceeded(pods[i]) {
		if isFailed(pods[i]) {
			c.recorder.Eventf(set, corev1.EventTypeWarning, "RecreatingFailedPod",
				"StatefulSet %s/%s is recreating failed Pod %s", set.Namespace, set.Name, pods[i].Name)
		} else {
			c.recorder.Eventf(set, corev1.EventTypeNormal, "RecreatingTerminatedPod",
				"StatefulSet %s/%s is recreating terminated Pod %s", set.Namespace, set.Name, pods[i].Name)
		}
		if err := c.deletePod(ctx, set, pods[i]); err != nil && !apierrors.IsNotFound(err) {
			return true, err
		}
		pods[i] = newVersionedPod(currentSet, updateSet, cur.Name, upd.Name, startOrdinal(set)+i)
	}
	if !isCreated(pods[i]) {
		stale, err := c.claimIsStale(set, pods[i])
		if err != nil || stale {
			return true, err // wait for the garbage collector
		}
		if err := c.createPod(ctx, set, pods[i]); err != nil {
			return true, err
		}
		return monotonic, nil
	}
	if isPending(pods[i]) {
		if err := c.createClaims(ctx, set, pods[i]); err != nil {
			return true, err
		}
	}
	if monotonic && (isTerminating(pods[i]) || !isRunningAndReady(pods[i]) || !c.available(pods[i], set.Spec.MinReadySeconds)) {
		return true, nil
	}
	match, err := c.claimsMatchRetention(updateSet, pods[i])
	if err != nil {
		match = true // expected while the pod is not fully updated
	}
	if identityMatches(set, pods[i]) && storageMatches(set, pods[i]) && match {
		return false, nil
	}
	return false, c.updatePod(ctx, updateSet, pods[i].DeepCopy())
}

// processCondemned deletes one pod beyond the replica range. In
// OrderedReady mode it waits for terminating pods, and removes an
// unhealthy pod only if it is the first unhealthy one.
func (c *Controller) processCondemned(ctx context.Context, set *appsv1.StatefulSet, firstUnhealthy *corev1.Pod,
	monotonic bool, condemned []*corev1.Pod, i int) (bool, error) {
	p := condemned[i]
	if isTerminating(p) {
		return monotonic, nil
	}
	if monotonic && p != firstUnhealthy && (!isRunningAndReady(p) || !c.available(p, set.Spec.MinReadySeconds)) {
		return true, nil
	}
	c.log.Info("pod is terminating for scale down", "statefulset", set.Namespace+"/"+set.Name, "pod", p.Name)
	if err := c.deletePod(ctx, set, p); err != nil && !apierrors.IsNotFound(err) {
		return true, err
	}
	return monotonic, nil
}

// runForAll calls fn for 0..n-1: in order, stopping at the first exit or
// error, when monotonic; otherwise all at once in slow-start batches.
func runForAll(n int, monotonic bool, fn func(i int) (bool, error)) (bool, error) {
	if monotonic {
		for i := range n {
			if exit, err := fn(i); exit || err != nil {
				return true, err
			}
		}
		return false, nil
	}
	for pos, batch := 0, min(n, 1); pos < n; pos, batch = pos+batch, min(2*batch, n-pos-batch) {
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		for i := pos; i < pos+batch; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			return true, errors.Join(errs...)
		}
	}
	return false, nil
}
