package apiserver

// The disruption-budget half of an eviction (see the design note in
// pods_eviction.go): which budget guards a pod, whether it lets the pod
// go, and taking one disruption from it. The budget is changed through
// updateObject on its status subresource, so the check and the decrement
// happen on the same revision of the budget and a concurrent eviction or
// disruption-controller write makes the store refuse the write and the
// check run again on the fresh budget.

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

var pdbsGVR = policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")

// maxDisruptedPods bounds status.disruptedPods, as upstream's
// MaxDisruptedPodSize: past it, evictions wait for the disruption
// controller to confirm the earlier ones.
const maxDisruptedPods = 2000

// evictGuarded evicts a running pod that budgets may protect.
func (s *Server) evictGuarded(ctx context.Context, res *registry.Resource, pod *corev1.Pod, opts metav1.DeleteOptions) error {
	pdbs, err := s.podBudgets(ctx, pod)
	if err != nil {
		return err
	}
	switch len(pdbs) {
	case 0:
		return s.markAndDeletePod(ctx, res, pod.Namespace, pod.Name, opts)
	case 1:
	default:
		return &apierrors.StatusError{ErrStatus: metav1.Status{
			Status:  metav1.StatusFailure,
			Code:    http.StatusInternalServerError,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
		}}
	}
	pdb := pdbs[0]
	if !podReady(pod) && unhealthyMayGo(pdb) {
		// The pod does not count as healthy, so taking it costs the
		// budget nothing, as long as it stays unready until it goes.
		clientRV := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
		del := opts
		if !clientRV {
			del = withResourceVersion(opts, pod.ResourceVersion)
		}
		err := s.markAndDeletePod(ctx, res, pod.Namespace, pod.Name, del)
		if apierrors.IsConflict(err) && !clientRV {
			// The pod changed, perhaps became ready: let the client retry.
			return budgetBusy(pdb.Name)
		}
		return err
	}
	if err := s.takeDisruption(ctx, pdb, pod.Name, len(opts.DryRun) > 0); err != nil {
		return err
	}
	return s.markAndDeletePod(ctx, res, pod.Namespace, pod.Name, opts)
}

// unhealthyMayGo says whether an unready pod may be evicted without
// taking a disruption: always under AlwaysAllow; under IfHealthyBudget
// (the default) only while the budget has the healthy pods it wants.
func unhealthyMayGo(pdb *policyv1.PodDisruptionBudget) bool {
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}

// podBudgets are the budgets in the pod's namespace whose selector matches
// it; an empty selector matches nothing, as upstream has it.
func (s *Server) podBudgets(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	res, ok := s.cfg.Registry.Lookup(pdbsGVR)
	if !ok {
		return nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, pod.Namespace, listQuery{filter: matchAll(res)})
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for _, obj := range objs {
		pdb := obj.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out, nil
}

// takeDisruption checks that the budget allows one more disruption and,
// unless on a dry run, takes it for the pod in the same write:
// disruptionsAllowed goes down and disruptedPods[pod] is set, which the
// disruption controller honours until the pod is gone or two minutes
// pass.
func (s *Server) takeDisruption(ctx context.Context, pdb *policyv1.PodDisruptionBudget, podName string, dry bool) error {
	res, _ := s.cfg.Registry.Lookup(pdbsGVR)
	if err := checkBudget(pdb); err != nil || dry {
		return err // a dry run writes nothing, as upstream
	}
	info := requestInfo{Verb: "update", GVR: res.GVR, Namespace: pdb.Namespace, Name: pdb.Name, Subresource: "status"}
	_, err := s.updateObject(ctx, res, info, writeOptions{}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		p := cur.(*policyv1.PodDisruptionBudget)
		if err := checkBudget(p); err != nil {
			return nil, err
		}
		p.Status.DisruptionsAllowed--
		if p.Status.DisruptionsAllowed == 0 {
			setDisruptionAllowed(p)
		}
		if p.Status.DisruptedPods == nil {
			p.Status.DisruptedPods = map[string]metav1.Time{}
		}
		p.Status.DisruptedPods[podName] = metav1.NewTime(time.Now())
		return p, nil
	})
	if apierrors.IsNotFound(err) {
		// The budget went away since it was listed: nothing guards the pod.
		return nil
	}
	return err
}

// checkBudget is upstream's checkAndDecrement without the decrement.
func checkBudget(pdb *policyv1.PodDisruptionBudget) error {
	gr := schema.GroupResource{Group: policyv1.GroupName, Resource: "poddisruptionbudget"}
	switch {
	case pdb.Status.ObservedGeneration < pdb.Generation:
		return budgetBusy(pdb.Name)
	case pdb.Status.DisruptionsAllowed < 0:
		return apierrors.NewForbidden(gr, pdb.Name, fmt.Errorf("pdb disruptions allowed is negative"))
	case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
		return apierrors.NewForbidden(gr, pdb.Name, fmt.Errorf("DisruptedPods map too big - too many evictions not confirmed by PDB controller"))
	case pdb.Status.DisruptionsAllowed == 0:
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: policyv1.DisruptionBudgetCause,
			Message: fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
				pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy),
		})
		return err
	}
	return nil
}

// budgetBusy is the 429 for a budget whose state cannot be trusted yet:
// the controller has not seen its latest spec, or the pod changed under
// the eviction. Clients retry after the suggested ten seconds.
func budgetBusy(name string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    policyv1.DisruptionBudgetCause,
		Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name),
	})
	return err
}

// setDisruptionAllowed sets the DisruptionAllowed condition from
// status.disruptionsAllowed, as upstream's UpdateDisruptionAllowedCondition.
func setDisruptionAllowed(pdb *policyv1.PodDisruptionBudget) {
	c := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, ObservedGeneration: pdb.Status.ObservedGeneration,
		Status: metav1.ConditionFalse, Reason: policyv1.InsufficientPodsReason}
	if pdb.Status.DisruptionsAllowed > 0 {
		c.Status, c.Reason = metav1.ConditionTrue, policyv1.SufficientPodsReason
	}
	if pdb.Status.Conditions == nil {
		pdb.Status.Conditions = []metav1.Condition{}
	}
	apimeta.SetStatusCondition(&pdb.Status.Conditions, c)
}

// podReady is upstream's IsPodReady, the eviction's notion of healthy.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
