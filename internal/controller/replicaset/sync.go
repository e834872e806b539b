package replicaset

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/controller/owned"
)

// sync brings one ReplicaSet's pods to its spec and writes its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rs, err := c.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting replicaset %s: %w", key, err)
	}
	// Read before listing pods: an event arriving in between must make
	// the next sync act, not this stale one.
	needsSync := c.expectations.Satisfied(key)
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		c.log.Info("invalid selector", "replicaset", key, "err", err)
		return nil // the API should not have let it in; nothing to retry
	}
	all, err := c.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	active, terminating := splitPods(all)
	pods, err := c.claimPods(ctx, rs, selector, active)
	if err != nil {
		return err
	}
	var manageErr error
	if needsSync && rs.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, pods, rs)
	}
	rs = rs.DeepCopy()
	status := calculateStatus(rs, pods, ownedTerminating(rs, selector, terminating), manageErr, c.clock.Now())
	updated, err := c.updateStatus(ctx, rs, status)
	if err != nil {
		return err
	}
	// Pods become available minReadySeconds after they are ready, and
	// nothing else would wake the ReplicaSet then.
	if manageErr == nil && updated.Spec.MinReadySeconds > 0 &&
		updated.Status.ReadyReplicas == replicas(updated) &&
		updated.Status.AvailableReplicas != replicas(updated) {
		c.queue.AddAfter(key, time.Duration(updated.Spec.MinReadySeconds)*time.Second)
	}
	return manageErr
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// splitPods separates the pods that count towards replicas (not being
// deleted, not finished: upstream's FilterActivePods) from those being
// deleted.
func splitPods(all []*corev1.Pod) (active, terminating []*corev1.Pod) {
	for _, p := range all {
		switch {
		case p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed:
		case p.DeletionTimestamp != nil:
			terminating = append(terminating, p)
		default:
			active = append(active, p)
		}
	}
	return active, terminating
}

// ownedTerminating are the terminating pods the ReplicaSet controls and
// still selects.
func ownedTerminating(rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if uid, ok := owned.ControllerUID(p); ok && uid == rs.UID && sel.Matches(labels.Set(p.Labels)) {
			out = append(out, p)
		}
	}
	return out
}

func (c *Controller) claimPods(ctx context.Context, rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) ([]*corev1.Pod, error) {
	cl := &owned.Claimer{
		Controller: rs,
		Kind:       c.kind,
		Selector:   sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: owned.RecheckDeletion(rs, func(ctx context.Context) (metav1.Object, error) {
			return c.client.AppsV1().ReplicaSets(rs.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		}),
	}
	return owned.Claim(ctx, cl, pods)
}

// manageReplicas creates or deletes pods so that len(pods) moves towards
// spec.replicas, at most burstReplicas at a time.
func (c *Controller) manageReplicas(ctx context.Context, key string, pods []*corev1.Pod, rs *appsv1.ReplicaSet) error {
	diff := len(pods) - int(replicas(rs))
	switch {
	case diff < 0:
		diff = min(-diff, burstReplicas)
		// Expect all before creating any: the informer may report a
		// creation before Create even returns.
		c.expectations.Expect(key, diff, 0)
		done, err := slowStartBatch(diff, 1, func() error { return c.createPod(ctx, rs) })
		for range diff - done {
			// Never created (failed or skipped): never observed.
			c.expectations.CreationObserved(key)
		}
		return err
	case diff > 0:
		diff = min(diff, burstReplicas)
		victims := podsToDelete(pods, c.relatedPods(rs), diff, c.clock.Now())
		keys := make([]string, len(victims))
		for i, p := range victims {
			keys[i] = cache.MetaObjectToName(p).String()
		}
		c.expectations.ExpectDeletions(key, keys)
		errs := make([]error, len(victims))
		var wg sync.WaitGroup
		for i, p := range victims {
			wg.Go(func() {
				if err := c.deletePodOf(ctx, rs, p); err != nil {
					c.expectations.DeletionObservedFor(key, keys[i])
					if !apierrors.IsNotFound(err) {
						errs[i] = err
					}
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	return nil
}

func (c *Controller) createPod(ctx context.Context, rs *appsv1.ReplicaSet) error {
	pod := owned.PodFromTemplate(&rs.Spec.Template, rs, c.kind)
	if len(pod.Labels) == 0 {
		return fmt.Errorf("unable to create pods, no labels")
	}
	created, err := c.client.CoreV1().Pods(rs.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the namespace is going; so are we
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("creating pod for %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", created.Name)
	return nil
}

func (c *Controller) deletePodOf(ctx context.Context, rs *appsv1.ReplicaSet, pod *corev1.Pod) error {
	err := c.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return err
		}
		c.recorder.Eventf(rs, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
		return fmt.Errorf("deleting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	c.recorder.Eventf(rs, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", pod.Name)
	return nil
}

// slowStartBatch calls fn count times in parallel batches of 1, 2, 4, ...
// and stops after the first batch with a failure, so that a template the
// API rejects costs one request, not hundreds. It returns how many calls
// succeeded.
func slowStartBatch(count, initial int, fn func() error) (int, error) {
	remaining, done := count, 0
	for batch := min(remaining, initial); batch > 0; batch = min(2*batch, remaining) {
		errs := make(chan error, batch)
		var wg sync.WaitGroup
		for range batch {
			wg.Go(func() {
				if err := fn(); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		done += batch - len(errs)
		if len(errs) > 0 {
			return done, <-errs
		}
		remaining -= batch
	}
	return done, nil
}
