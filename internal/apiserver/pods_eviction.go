package apiserver

// pods/eviction is a delete that respects disruption budgets, as
// upstream's EvictionREST serves it (kubectl drain, the node lifecycle
// controller). A pod that no budget could guard (pending, finished,
// already being deleted) is deleted at once; as upstream, the delete is
// conditional on the pod not having changed since it was read, unless the
// client gave its own resourceVersion precondition. Any other pod is
// checked against the PodDisruptionBudgets whose selector matches it
// (pods_eviction_budget.go):
//   - none: the pod is deleted;
//   - more than one: 500, which the eviction subresource does not support;
//   - one: an unready pod goes if the budget's unhealthyPodEvictionPolicy
//     is AlwaysAllow or the budget is met without it (then only if the pod
//     is still as read); a ready one only if the budget allows a
//     disruption, which is taken atomically before the delete
//     (status.disruptionsAllowed decremented, status.disruptedPods[pod]
//     set, so the disruption controller does not count it as healthy);
//     otherwise 429 "Cannot evict pod as it would violate the pod's
//     disruption budget." with a DisruptionBudget cause, which clients
//     such as kubectl drain retry. A budget the controller has not
//     observed in its latest generation is also a 429.
// The deleted pod is first marked with the condition DisruptionTarget=True
// and deleted with the eviction's DeleteOptions, and the answer is 201
// with a Success Status.

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

var evictionGVK = policyv1.SchemeGroupVersion.WithKind("Eviction")

// serveEviction answers POST pods/NAME/eviction with a policy/v1 or
// policy/v1beta1 Eviction.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if err := onlyCreate(res, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	dry, err := dryRun(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeSubresourceBody(r, evictionGVK)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var meta *metav1.ObjectMeta
	var opts *metav1.DeleteOptions
	switch e := obj.(type) {
	case *policyv1.Eviction:
		meta, opts = &e.ObjectMeta, e.DeleteOptions
	case *policyv1beta1.Eviction:
		meta, opts = &e.ObjectMeta, e.DeleteOptions
	default:
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("not a Eviction object: %T", obj)))
		return
	}
	if err := subresourceNamespace(meta, info.Namespace); err != nil {
		s.writeError(w, r, err)
		return
	}
	if meta.Name != info.Name {
		s.writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in Eviction object"))
		return
	}
	del, err := evictionDeleteOptions(opts, dry)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.evict(r.Context(), res, info.Namespace, info.Name, del); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCreatedStatus(w, r)
}

// evictionDeleteOptions are the eviction's DeleteOptions with the
// request's dryRun, which must agree with theirs, as upstream's
// propagateDryRun has it.
func evictionDeleteOptions(opts *metav1.DeleteOptions, dry bool) (metav1.DeleteOptions, error) {
	var del metav1.DeleteOptions
	if opts != nil {
		del = *opts.DeepCopy()
	}
	var request []string
	if dry {
		request = []string{metav1.DryRunAll}
	}
	switch {
	case len(del.DryRun) == 0:
		del.DryRun = request
	case len(request) > 0 && !slices.Equal(request, del.DryRun):
		return del, fmt.Errorf("Non-matching dry-run options in request and content: %v and %v", request, del.DryRun) //nolint:staticcheck // upstream's words
	}
	for _, v := range del.DryRun {
		if v != metav1.DryRunAll {
			return del, apierrors.NewBadRequest(fmt.Sprintf("dryRun: unsupported value %q", v))
		}
	}
	if p := del.PropagationPolicy; p != nil {
		switch *p {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return del, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy: unsupported value %q", *p))
		}
	}
	return del, nil
}

// evict deletes a pod as an eviction does. A conflict is retried unless
// the client's own resourceVersion precondition caused it.
func (s *Server) evict(ctx context.Context, res *registry.Resource, namespace, name string, opts metav1.DeleteOptions) error {
	clientRV := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
	for attempt := 1; ; attempt++ {
		obj, _, err := s.getObject(ctx, res, namespace, name)
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		if !unguardable(pod) {
			return s.evictGuarded(ctx, res, pod, opts)
		}
		del := opts
		if guardsRevision(pod) && !clientRV {
			// Do not race with whatever might make the pod count for a
			// budget after all.
			del = withResourceVersion(opts, pod.ResourceVersion)
		}
		err = s.markAndDeletePod(ctx, res, namespace, name, del)
		if apierrors.IsConflict(err) && !clientRV && attempt < maxUpdateAttempts {
			continue
		}
		return err
	}
}

// withResourceVersion is a copy of opts whose delete holds only while the
// pod is still at revision rv.
func withResourceVersion(opts metav1.DeleteOptions, rv string) metav1.DeleteOptions {
	del := *opts.DeepCopy()
	if del.Preconditions == nil {
		del.Preconditions = &metav1.Preconditions{}
	}
	del.Preconditions.ResourceVersion = &rv
	return del
}

// unguardable pods are those no disruption budget protects: pending,
// finished or already being deleted (upstream's canIgnorePDB).
func unguardable(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodPending || pod.Status.Phase == corev1.PodSucceeded ||
		pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil
}

// guardsRevision says whether the delete of an unguardable pod must be
// conditional on its revision: not for a finished or deleted pod, which
// cannot become healthy again.
func guardsRevision(pod *corev1.Pod) bool {
	return pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.DeletionTimestamp == nil
}

// markAndDeletePod adds the DisruptionTarget condition to the pod's status
// (not on a dry run) and deletes it, as upstream's
// addConditionAndDeletePod does.
func (s *Server) markAndDeletePod(ctx context.Context, res *registry.Resource, namespace, name string, opts metav1.DeleteOptions) error {
	if len(opts.DryRun) == 0 {
		info := requestInfo{Verb: "update", GVR: res.GVR, Namespace: namespace, Name: name, Subresource: "status"}
		updated, err := s.updateObject(ctx, res, info, writeOptions{}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
			pod := cur.(*corev1.Pod)
			if err := evictionPreconditions(pod, opts.Preconditions); err != nil {
				return nil, err
			}
			updatePodCondition(&pod.Status, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
				Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting"})
			return pod, nil
		})
		if err != nil {
			return err
		}
		if opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil {
			// The condition is this eviction's own change.
			opts = *opts.DeepCopy()
			rv := updated.(*corev1.Pod).ResourceVersion
			opts.Preconditions.ResourceVersion = &rv
		}
	}
	_, _, err := s.deleteObject(ctx, res, namespace, name, opts)
	return err
}

// evictionPreconditions checks the eviction's preconditions against the
// pod before it is marked, worded as upstream words them there.
func evictionPreconditions(pod *corev1.Pod, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	gr := schema.GroupResource{Resource: "Pod"}
	if uid := p.UID; uid != nil && *uid != "" && *uid != pod.UID {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf(
			"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *uid, pod.UID))
	}
	if rv := p.ResourceVersion; rv != nil && *rv != "" && *rv != pod.ResourceVersion {
		return apierrors.NewConflict(gr, pod.Name, fmt.Errorf(
			"the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *rv, pod.ResourceVersion))
	}
	return nil
}
