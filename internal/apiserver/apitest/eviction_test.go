package apitest

import (
	"context"
	"errors"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/store"
)

// budgetFixture makes running pods and budgets whose status the test sets
// itself, standing in for the disruption controller.
type budgetFixture struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
}

// runningPod creates a pod bound to a node and running, ready or not.
func (f budgetFixture) runningPod(name, app string, ready bool) {
	f.t.Helper()
	pods := f.client.CoreV1().Pods("default")
	if _, err := pods.Create(f.ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "nginx"}}}}, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	if err := pods.Bind(f.ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	p, err := pods.Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	p.Status.Phase = corev1.PodRunning
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.PodReady, Status: status})
	if _, err := pods.UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

// budget creates a budget over app and gives it the status the disruption
// controller would: observed when observed is set.
func (f budgetFixture) budget(name, app string, policy *policyv1.UnhealthyPodEvictionPolicyType, st policyv1.PodDisruptionBudgetStatus, observed bool) {
	f.t.Helper()
	pdbs := f.client.PolicyV1().PodDisruptionBudgets("default")
	pdb, err := pdbs.Create(f.ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(st.DesiredHealthy)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}, UnhealthyPodEvictionPolicy: policy}},
		metav1.CreateOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	pdb.Status = st
	if observed {
		pdb.Status.ObservedGeneration = pdb.Generation
	}
	if _, err := pdbs.UpdateStatus(f.ctx, pdb, metav1.UpdateOptions{}); err != nil {
		f.t.Fatal(err)
	}
}

func (f budgetFixture) evict(name string, opts *metav1.DeleteOptions) error {
	return f.client.CoreV1().Pods("default").EvictV1(f.ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: name}, DeleteOptions: opts})
}

func (f budgetFixture) pdb(name string) *policyv1.PodDisruptionBudget {
	f.t.Helper()
	pdb, err := f.client.PolicyV1().PodDisruptionBudgets("default").Get(f.ctx, name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return pdb
}

// evicted says whether the pod is gone or being deleted.
func (f budgetFixture) evicted(name string) bool {
	f.t.Helper()
	p, err := f.client.CoreV1().Pods("default").Get(f.ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return p.DeletionTimestamp != nil
}

// checkTooManyRequests checks a 429 with a DisruptionBudget cause.
func checkTooManyRequests(t *testing.T, err error, cause string) {
	t.Helper()
	var se *apierrors.StatusError
	if !apierrors.IsTooManyRequests(err) || !asStatus(err, &se) {
		t.Fatalf("want 429, got %v", err)
	}
	st := se.ErrStatus
	if st.Message != "Cannot evict pod as it would violate the pod's disruption budget." || st.Details == nil ||
		len(st.Details.Causes) != 1 || st.Details.Causes[0].Type != policyv1.DisruptionBudgetCause || st.Details.Causes[0].Message != cause {
		t.Fatalf("429 status %+v details %+v", st, st.Details)
	}
}

func asStatus(err error, se **apierrors.StatusError) bool {
	return errors.As(err, se)
}

func TestEvictionHonoursBudget(t *testing.T) {
	ts := startServer(t, store.Config{})
	f := budgetFixture{t: t, ctx: context.Background(), client: ts.client()}
	for _, name := range []string{"web-1", "web-2", "web-3"} {
		f.runningPod(name, "web", true)
	}
	f.budget("web", "web", nil, policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 3, DesiredHealthy: 2, ExpectedPods: 3}, true)

	// A dry run checks the budget and changes nothing.
	if err := f.evict("web-1", &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatal(err)
	}
	if pdb := f.pdb("web"); pdb.Status.DisruptionsAllowed != 1 || len(pdb.Status.DisruptedPods) != 0 || f.evicted("web-1") {
		t.Fatalf("after a dry run: %+v", pdb.Status)
	}

	// The one allowed disruption is taken and recorded.
	if err := f.evict("web-1", nil); err != nil {
		t.Fatal(err)
	}
	pdb := f.pdb("web")
	if _, ok := pdb.Status.DisruptedPods["web-1"]; pdb.Status.DisruptionsAllowed != 0 || !ok || !f.evicted("web-1") {
		t.Fatalf("after the first eviction: %+v", pdb.Status)
	}
	if len(pdb.Status.Conditions) != 1 || pdb.Status.Conditions[0].Type != policyv1.DisruptionAllowedCondition ||
		pdb.Status.Conditions[0].Status != metav1.ConditionFalse || pdb.Status.Conditions[0].Reason != policyv1.InsufficientPodsReason {
		t.Errorf("conditions %+v", pdb.Status.Conditions)
	}

	// The next one would violate the budget; so would its dry run.
	for _, opts := range []*metav1.DeleteOptions{nil, {DryRun: []string{metav1.DryRunAll}}} {
		checkTooManyRequests(t, f.evict("web-2", opts), "The disruption budget web needs 2 healthy pods and has 3 currently")
	}
	if f.evicted("web-2") {
		t.Fatal("web-2 evicted against its budget")
	}

}

func TestEvictionUnobservedAndSeveralBudgets(t *testing.T) {
	ts := startServer(t, store.Config{})
	f := budgetFixture{t: t, ctx: context.Background(), client: ts.client()}
	f.runningPod("db-1", "db", true)
	f.budget("db", "db", nil, policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 1, DesiredHealthy: 0}, false)
	checkTooManyRequests(t, f.evict("db-1", nil), "The disruption budget db is still being processed by the server.")

	f.budget("db-too", "db", nil, policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, CurrentHealthy: 1}, true)
	err := f.evict("db-1", nil)
	var se *apierrors.StatusError
	if !asStatus(err, &se) || se.ErrStatus.Code != http.StatusInternalServerError ||
		se.ErrStatus.Message != "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support." {
		t.Fatalf("two budgets: %v", err)
	}
	if f.evicted("db-1") {
		t.Fatal("db-1 evicted")
	}
}

func TestEvictionOfUnhealthyPods(t *testing.T) {
	ts := startServer(t, store.Config{})
	f := budgetFixture{t: t, ctx: context.Background(), client: ts.client()}
	exhausted := func(healthy, desired int32) policyv1.PodDisruptionBudgetStatus {
		return policyv1.PodDisruptionBudgetStatus{CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: 3}
	}
	for _, tc := range []struct {
		name    string
		policy  *policyv1.UnhealthyPodEvictionPolicyType
		status  policyv1.PodDisruptionBudgetStatus
		evicted bool
	}{
		// Under IfHealthyBudget (the default), an unready pod goes only
		// while the budget has its healthy pods.
		{"met", nil, exhausted(2, 2), true},
		{"metexplicit", ptr.To(policyv1.IfHealthyBudget), exhausted(2, 2), true},
		{"short", nil, exhausted(1, 2), false},
		{"shortexplicit", ptr.To(policyv1.IfHealthyBudget), exhausted(1, 2), false},
		// AlwaysAllow lets it go regardless.
		{"always", ptr.To(policyv1.AlwaysAllow), exhausted(1, 2), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			f.runningPod(tc.name, tc.name, false)
			f.budget(tc.name, tc.name, tc.policy, tc.status, true)
			err := f.evict(tc.name, nil)
			if tc.evicted && err != nil {
				t.Fatal(err)
			}
			if !tc.evicted {
				checkTooManyRequests(t, err, "The disruption budget "+tc.name+" needs 2 healthy pods and has 1 currently")
			}
			if got := f.evicted(tc.name); got != tc.evicted {
				t.Fatalf("evicted %v, want %v", got, tc.evicted)
			}
			// An unready pod costs the budget nothing.
			if pdb := f.pdb(tc.name); len(pdb.Status.DisruptedPods) != 0 {
				t.Errorf("disrupted pods %v", pdb.Status.DisruptedPods)
			}
		})
	}
}
