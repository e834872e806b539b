package endpoints

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// sync makes the Endpoints of one service (key namespace/name) match its
// pods.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		// The service went: its Endpoints go with it.
		err := c.client.CoreV1().Endpoints(namespace).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting endpoints %s: %w", key, err)
		}
		c.trigger.DeleteService(namespace, name)
		c.stale.forget(namespace, name)
		return nil
	}
	if err != nil {
		return err
	}
	// ExternalName services get no endpoints (issues.k8s.io/105986);
	// services without a selector get theirs out of band.
	if svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Spec.Selector == nil {
		return nil
	}
	pods, err := c.pods.Pods(namespace).List(labels.Set(svc.Spec.Selector).AsSelectorPreValidated())
	if err != nil {
		return err
	}
	// Computed on every sync so the tracker sees every state, even when
	// nothing is written.
	triggerTime := c.trigger.ComputeEndpointLastChangeTriggerTime(namespace, svc, pods)
	subsets := desiredSubsets(svc, pods)

	current, err := c.endpoints.Endpoints(namespace).Get(name)
	switch {
	case apierrors.IsNotFound(err):
		current = &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: svc.Labels}}
	case err != nil:
		return err
	case c.stale.isStale(current):
		return fmt.Errorf("endpoints informer cache is out of date, resource version %s already processed for endpoints %s", current.ResourceVersion, key)
	}
	create := current.ResourceVersion == ""
	if !create && upToDate(current, svc, subsets) {
		return nil
	}

	desired := current.DeepCopy()
	desired.Subsets = subsets
	desired.Labels = desiredLabels(svc)
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	if !triggerTime.IsZero() {
		desired.Annotations[corev1.EndpointsLastChangeTriggerTime] = triggerTime.UTC().Format(time.RFC3339Nano)
	} else {
		delete(desired.Annotations, corev1.EndpointsLastChangeTriggerTime)
	}
	if truncate(desired) {
		desired.Annotations[corev1.EndpointsOverCapacity] = truncated
	} else {
		delete(desired.Annotations, corev1.EndpointsOverCapacity)
	}

	var updated *corev1.Endpoints
	if create {
		_, err = c.client.CoreV1().Endpoints(namespace).Create(ctx, desired, metav1.CreateOptions{})
	} else {
		updated, err = c.client.CoreV1().Endpoints(namespace).Update(ctx, desired, metav1.UpdateOptions{})
	}
	if err != nil {
		// Creates in a terminating namespace keep failing; the namespace
		// controller is emptying it anyway.
		if create && apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		if create {
			c.recorder.Eventf(desired, corev1.EventTypeWarning, "FailedToCreateEndpoint",
				"Failed to create endpoint for service %v/%v: %v", namespace, name, err)
			return fmt.Errorf("creating endpoints %s: %w", key, err)
		}
		c.recorder.Eventf(desired, corev1.EventTypeWarning, "FailedToUpdateEndpoint",
			"Failed to update endpoint %v/%v: %v", namespace, name, err)
		return fmt.Errorf("updating endpoints %s: %w", key, err)
	}
	// Until the informer delivers the update, the cache holds the version
	// just replaced; a sync that read it would write from stale state.
	if updated != nil && updated.ResourceVersion != current.ResourceVersion {
		c.stale.markStale(current)
	}
	return nil
}

// upToDate reports whether current already shows subsets and the
// service's labels, and carries the over-capacity annotation exactly when
// it must, so that nothing is written.
func upToDate(current *corev1.Endpoints, svc *corev1.Service, subsets []corev1.EndpointSubset) bool {
	want := desiredLabels(svc)
	if !apiequality.Semantic.DeepEqual(current.Labels, want) {
		return false
	}
	n := 0
	for _, ss := range subsets {
		n += len(ss.Addresses) + len(ss.NotReadyAddresses)
	}
	_, marked := current.Annotations[corev1.EndpointsOverCapacity]
	if n > maxCapacity {
		// Compare against what would be written: the truncated subsets
		// (of a copy: truncate reslices the subsets it is given).
		probe := &corev1.Endpoints{Subsets: slices.Clone(subsets)}
		truncate(probe)
		return marked && semanticIgnoreResourceVersion.DeepEqual(current.Subsets, probe.Subsets)
	}
	return !marked && semanticIgnoreResourceVersion.DeepEqual(current.Subsets, subsets)
}

// desiredLabels are the service's labels, plus the headless marker for a
// service without a cluster IP.
func desiredLabels(svc *corev1.Service) map[string]string {
	out := maps.Clone(svc.Labels)
	if out == nil {
		out = map[string]string{}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		out[corev1.IsHeadlessService] = ""
	} else {
		delete(out, corev1.IsHeadlessService)
	}
	return out
}

// semanticIgnoreResourceVersion compares subsets ignoring the pods'
// resourceVersions in targetRefs, so that a pod change no endpoint shows
// (an annotation) does not rewrite the Endpoints.
var semanticIgnoreResourceVersion = conversion.EqualitiesOrDie(
	func(a, b corev1.ObjectReference) bool {
		a.ResourceVersion, b.ResourceVersion = "", ""
		return a == b
	},
)

// staleTracker remembers, per Endpoints, the resourceVersion this
// controller last replaced, so that a sync reading that version from the
// informer cache knows the cache is behind and retries later (upstream's
// staleEndpointsTracker; issues.k8s.io/126578).
type staleTracker struct {
	mu       sync.Mutex
	replaced map[string]string
}

func newStaleTracker() *staleTracker { return &staleTracker{replaced: map[string]string{}} }

func (t *staleTracker) markStale(ep *corev1.Endpoints) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.replaced[ep.Namespace+"/"+ep.Name] = ep.ResourceVersion
}

func (t *staleTracker) isStale(ep *corev1.Endpoints) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rv, ok := t.replaced[ep.Namespace+"/"+ep.Name]
	return ok && rv == ep.ResourceVersion
}

func (t *staleTracker) forget(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.replaced, namespace+"/"+name)
}
