package resourcequota

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/controller/resourcequota/usage"
)

// sync recounts one quota: status.hard becomes spec.hard and status.used
// what the namespace's objects use of it, as upstream's
// syncResourceQuota. What it cannot count keeps its last value.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller queued
	}
	q, err := c.quotas.ResourceQuotas(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	hard := usage.Add(corev1.ResourceList{}, q.Spec.Hard)
	used := usage.Add(corev1.ResourceList{}, q.Status.Used)
	counted, errs := c.count(q, hard)
	for k, v := range counted {
		used[k] = v
	}
	used = usage.Mask(used, usage.Names(hard))
	if q.Status.Hard == nil || q.Status.Used == nil || !usage.Equal(hard, q.Status.Hard) || !usage.Equal(used, q.Status.Used) {
		next := q.DeepCopy()
		next.Status = corev1.ResourceQuotaStatus{Hard: hard, Used: used}
		if _, err := c.client.CoreV1().ResourceQuotas(namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// count sums what the quota's namespace uses of the hard resources, over
// every tracked resource the quota names; each one counts from zero so
// that a name with no objects reads 0.
func (c *Controller) count(q *corev1.ResourceQuota, hard corev1.ResourceList) (corev1.ResourceList, []error) {
	now := c.clock.Now()
	total := corev1.ResourceList{}
	var errs []error
	for _, t := range c.tracked {
		var names []corev1.ResourceName
		for _, n := range usage.Names(hard) {
			if usage.Covers(t.gr, n) {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			continue
		}
		objs, err := t.list(q.Namespace)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum := corev1.ResourceList{}
		for _, n := range names {
			sum[n] = *resourceZero()
		}
		for _, o := range objs {
			if usage.InScopes(q, o) {
				sum = usage.Add(sum, usage.Mask(usage.Of(t.gr, o, now), names))
			}
		}
		total = usage.Add(total, sum)
	}
	return total, errs
}

func resourceZero() *resource.Quantity { return resource.NewQuantity(0, resource.DecimalSI) }
