package endpointslice

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// errStaleCache: the informer cache does not yet show this controller's
// own writes; acting on it could create duplicate slices.
var errStaleCache = errors.New("EndpointSlice informer cache is out of date")

// sync makes the slices of one service (key namespace/name) match its
// pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.trigger.DeleteService(namespace, name)
		c.tracker.deleteService(namespace, name)
		return c.deleteOrphans(ctx, namespace, name)
	}
	if err != nil {
		return err
	}
	// ExternalName services get no endpoints (issues.k8s.io/105986);
	// services without a selector get their slices out of band.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToListPods",
			"Error listing Pods for Service %s/%s: %v", namespace, name, err)
		return err
	}
	existing, err := c.managedSlices(namespace, name)
	if err != nil {
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToListEndpointSlices",
			"Error listing Endpoint Slices for Service %s/%s: %v", namespace, name, err)
		return err
	}
	if c.tracker.stale(svc, existing) {
		return errStaleCache
	}
	// Computed on every sync so the tracker sees every state, even when
	// nothing is written.
	triggerTime := c.trigger.ComputeEndpointLastChangeTriggerTime(namespace, svc, pods)
	if err := c.reconcile(ctx, svc, pods, existing, triggerTime); err != nil {
		// Upstream records a missing node too: the pod is left out.
		c.recorder.Eventf(svc, corev1.EventTypeWarning, "FailedToUpdateEndpointSlices",
			"Error updating Endpoint Slices for Service %s/%s: %v", namespace, name, err)
		return err
	}
	return nil
}

// managedSlices are the slices of service name managed by this
// controller, less those already being deleted (they would stall the
// reconcile).
func (c *Controller) managedSlices(namespace, name string) ([]*discoveryv1.EndpointSlice, error) {
	all, err := c.slices.EndpointSlices(namespace).List(labels.Set{
		discoveryv1.LabelServiceName: name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}.AsSelectorPreValidated())
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, s := range all {
		if s.DeletionTimestamp == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// deleteOrphans deletes the slices of a deleted service. Upstream leaves
// this to the garbage collector through the owner reference; doing it
// here too means a proxy never sees endpoints of a service that is gone,
// whether or not a collector runs.
func (c *Controller) deleteOrphans(ctx context.Context, namespace, name string) error {
	orphans, err := c.managedSlices(namespace, name)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range orphans {
		err := c.client.DiscoveryV1().EndpointSlices(namespace).Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting EndpointSlice %s/%s of a deleted service: %w", namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}
