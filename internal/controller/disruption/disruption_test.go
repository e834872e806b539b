package disruption

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func replicaSet(name string, replicas int32, owner *metav1.OwnerReference) *appsv1.ReplicaSet {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid")},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)}}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return rs
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name + "-uid")},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}}
}

// controllerRef is a controller reference to obj of kind in apiVersion.
func controllerRef(apiVersion, kind string, obj metav1.Object) *metav1.OwnerReference {
	return &metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: obj.GetName(), UID: obj.GetUID(), Controller: ptr.To(true)}
}

func pod(name string, ready bool, owner *metav1.OwnerReference) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	return p
}

func budget(minAvailable, maxUnavailable *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Generation: 2},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: minAvailable, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
}

// syncOnce builds a controller over objs, waits for its caches, syncs the
// budget "default/web" once and returns it as written, with the events.
func syncOnce(t *testing.T, objs ...runtime.Object) (*policyv1.PodDisruptionBudget, []string) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Clock: testingclock.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	defer func() {
		cancel() // stops the informers, which Shutdown waits for
		factory.Shutdown()
	}()
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache of %v not synced", typ)
		}
	}
	if err := c.sync(ctx, "default/web"); err != nil && !strings.Contains(t.Name(), "fail") {
		t.Fatalf("sync: %v", err)
	}
	pdb, err := client.PolicyV1().PodDisruptionBudgets("default").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	return pdb, events
}

func TestBudgetStatus(t *testing.T) {
	rs := replicaSet("web-rs", 3, nil)
	rsRef := controllerRef("apps/v1", "ReplicaSet", rs)
	d := deployment("web", 4)
	drs := replicaSet("web-6d4f", 4, controllerRef("apps/v1", "Deployment", d))
	drsRef := controllerRef("apps/v1", "ReplicaSet", drs)
	ss := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default", UID: "db-uid"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](5)}}
	int2, pct50, pct25 := intstr.FromInt32(2), intstr.FromString("50%"), intstr.FromString("25%")
	for _, tc := range []struct {
		name                                string
		pdb                                 *policyv1.PodDisruptionBudget
		objs                                []runtime.Object
		healthy, desired, expected, allowed int32
		reason                              string
		event                               string
	}{
		{name: "minAvailable 2 of 3 ready pods of a ReplicaSet", pdb: budget(&int2, nil),
			objs:    []runtime.Object{rs, pod("a", true, rsRef), pod("b", true, rsRef), pod("c", true, rsRef)},
			healthy: 3, desired: 2, expected: 3, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "minAvailable 2 with one pod unready", pdb: budget(&int2, nil),
			objs:    []runtime.Object{rs, pod("a", true, rsRef), pod("b", true, rsRef), pod("c", false, rsRef)},
			healthy: 2, desired: 2, expected: 3, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable 50% of a Deployment's 4 replicas with 3 pods", pdb: budget(&pct50, nil),
			objs:    []runtime.Object{d, drs, pod("a", true, drsRef), pod("b", true, drsRef), pod("c", true, drsRef)},
			healthy: 3, desired: 2, expected: 4, allowed: 1, reason: policyv1.SufficientPodsReason},
		{name: "maxUnavailable 25% of a Deployment's 4 replicas with 3 pods", pdb: budget(nil, &pct25),
			objs:    []runtime.Object{d, drs, pod("a", true, drsRef), pod("b", true, drsRef), pod("c", true, drsRef)},
			healthy: 3, desired: 3, expected: 4, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "maxUnavailable 2 of a StatefulSet", pdb: budget(nil, &int2),
			objs: []runtime.Object{ss, pod("db-0", true, controllerRef("apps/v1", "StatefulSet", ss)),
				pod("db-1", true, controllerRef("apps/v1", "StatefulSet", ss))},
			healthy: 2, desired: 3, expected: 5, allowed: 0, reason: policyv1.InsufficientPodsReason},
		{name: "minAvailable 50% with unmanaged pods", pdb: budget(&pct50, nil),
			objs:    []runtime.Object{pod("a", true, nil), pod("b", true, nil)},
			healthy: 2, desired: 0, expected: 0, allowed: 0, reason: policyv1.InsufficientPodsReason, event: "Warning UnmanagedPods"},
		{name: "no pods", pdb: budget(&int2, nil),
			healthy: 0, desired: 2, expected: 0, allowed: 0, reason: policyv1.InsufficientPodsReason, event: "Normal NoPods No matching pods found"},
		{name: "fails on a controller of an unknown kind", pdb: budget(&pct50, nil),
			objs:   []runtime.Object{pod("a", true, &metav1.OwnerReference{APIVersion: "example.com/v1", Kind: "Thing", Name: "t", UID: "t", Controller: ptr.To(true)})},
			reason: policyv1.SyncFailedReason, event: "Warning CalculateExpectedPodCountFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pdb, events := syncOnce(t, append(tc.objs, tc.pdb)...)
			st := pdb.Status
			if st.CurrentHealthy != tc.healthy || st.DesiredHealthy != tc.desired || st.ExpectedPods != tc.expected || st.DisruptionsAllowed != tc.allowed {
				t.Errorf("status healthy %d desired %d expected %d allowed %d, want %d %d %d %d",
					st.CurrentHealthy, st.DesiredHealthy, st.ExpectedPods, st.DisruptionsAllowed, tc.healthy, tc.desired, tc.expected, tc.allowed)
			}
			cond := apimeta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
			if cond == nil || cond.Reason != tc.reason || (cond.Status == metav1.ConditionTrue) != (tc.reason == policyv1.SufficientPodsReason) {
				t.Errorf("condition %+v, want reason %s", cond, tc.reason)
			}
			if tc.reason == policyv1.SyncFailedReason {
				if cond != nil && !strings.Contains(cond.Message, `found no controllers for pod "a"`) {
					t.Errorf("SyncFailed message %q", cond.Message)
				}
			} else if st.ObservedGeneration != 2 {
				t.Errorf("observedGeneration %d", st.ObservedGeneration)
			}
			if tc.event != "" && (len(events) == 0 || !strings.HasPrefix(events[0], tc.event)) {
				t.Errorf("events %q, want %q", events, tc.event)
			}
		})
	}
}

func TestDisruptedPods(t *testing.T) {
	rs := replicaSet("web-rs", 3, nil)
	ref := controllerRef("apps/v1", "ReplicaSet", rs)
	int1 := intstr.FromInt32(1)
	pdb := budget(&int1, nil)
	pdb.Status.DisruptedPods = map[string]metav1.Time{
		"recent": metav1.NewTime(now.Add(-time.Minute)),     // still expected to go
		"stale":  metav1.NewTime(now.Add(-3 * time.Minute)), // never went
		"gone":   metav1.NewTime(now.Add(-time.Minute)),     // already deleted
	}
	got, events := syncOnce(t, rs, pdb, pod("recent", true, ref), pod("stale", true, ref), pod("other", true, ref))
	if _, ok := got.Status.DisruptedPods["recent"]; !ok || len(got.Status.DisruptedPods) != 1 {
		t.Errorf("disruptedPods %v, want only recent", got.Status.DisruptedPods)
	}
	// recent does not count as healthy until its entry expires.
	if got.Status.CurrentHealthy != 2 || got.Status.DisruptionsAllowed != 1 {
		t.Errorf("healthy %d allowed %d, want 2 and 1", got.Status.CurrentHealthy, got.Status.DisruptionsAllowed)
	}
	want := "Warning NotDeleted Pod was expected by PDB default/web to be deleted but it wasn't"
	found := false
	for _, e := range events {
		found = found || e == want
	}
	if !found {
		t.Errorf("events %q, want %q", events, want)
	}
}
