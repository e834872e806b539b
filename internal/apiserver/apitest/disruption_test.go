package apitest

import (
	"context"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/controller/disruption"
	"mini.dev/mini/internal/store"
)

// TestDisruptionControllerAndEviction runs the disruption controller
// against the API: the status it writes is what evictions spend.
func TestDisruptionControllerAndEviction(t *testing.T) {
	ts := startServer(t, store.Config{})
	client := ts.client()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := disruption.New(disruption.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	factory.Start(ctx.Done())
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		factory.Shutdown()
	})

	f := budgetFixture{t: t, ctx: ctx, client: client}
	for _, name := range []string{"web-1", "web-2", "web-3"} {
		f.runningPod(name, "web", true)
	}
	if _, err := client.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitForBudget := func(what string, ok func(policyv1.PodDisruptionBudgetStatus) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			pdb := f.pdb("web")
			if pdb.Status.ObservedGeneration == pdb.Generation && ok(pdb.Status) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: %+v", what, pdb.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitForBudget("one allowed disruption", func(st policyv1.PodDisruptionBudgetStatus) bool {
		return st.CurrentHealthy == 3 && st.DesiredHealthy == 2 && st.ExpectedPods == 3 && st.DisruptionsAllowed == 1
	})
	if err := f.evict("web-1", nil); err != nil {
		t.Fatal(err)
	}
	// The controller sees the evicted pod go and counts again; the
	// budget's own bookkeeping of the eviction is then dropped.
	waitForBudget("the eviction counted", func(st policyv1.PodDisruptionBudgetStatus) bool {
		return st.CurrentHealthy == 2 && st.DisruptionsAllowed == 0 && len(st.DisruptedPods) == 0
	})
	checkTooManyRequests(t, f.evict("web-2", nil), "The disruption budget web needs 2 healthy pods and has 2 currently")
}
