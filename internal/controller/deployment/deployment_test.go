package deployment

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestNewReplicaSetNameRevisionAndStatus(t *testing.T) {
	d := newDeployment(3, "nginx:1")
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "first"}
	h := newHarness(t, d)
	h.sync()

	rss := h.rss()
	if len(rss) != 1 {
		t.Fatalf("%d replicasets, want 1", len(rss))
	}
	rs := rss[0]
	hash := computeHash(&d.Spec.Template, nil)
	if rs.Name != "web-"+hash {
		t.Errorf("name %s, want web-%s", rs.Name, hash)
	}
	if rs.Labels[podTemplateHashLabel] != hash || rs.Spec.Selector.MatchLabels[podTemplateHashLabel] != hash ||
		rs.Spec.Template.Labels[podTemplateHashLabel] != hash || rs.Spec.Template.Labels["app"] != "web" {
		t.Errorf("hash label missing: labels %v selector %v template %v", rs.Labels, rs.Spec.Selector, rs.Spec.Template.Labels)
	}
	wantAnn := map[string]string{revisionAnnotation: "1", desiredReplicasAnnotation: "3", maxReplicasAnnotation: "4",
		"kubernetes.io/change-cause": "first"}
	for k, v := range wantAnn {
		if rs.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	if *rs.Spec.Replicas != 3 {
		t.Errorf("replicas %d, want 3", *rs.Spec.Replicas)
	}
	if ref := rs.OwnerReferences; len(ref) != 1 || ref[0].UID != d.UID || !*ref[0].Controller {
		t.Errorf("owner refs %+v", ref)
	}
	if got := h.deployment().Annotations[revisionAnnotation]; got != "1" {
		t.Errorf("deployment revision %q, want 1", got)
	}
	if c := h.progressing(); c == nil || c.Reason != reasonNewRSCreated || c.Message != `Created new replica set "`+rs.Name+`"` {
		t.Errorf("Progressing = %+v", c)
	}
	if ev := h.drainEvents(); len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set "+rs.Name+" from 0 to 3" {
		t.Errorf("events %q", ev)
	}

	h.settle(nil)
	h.sync()
	st := h.deployment().Status
	if st.ObservedGeneration != 1 || st.Replicas != 3 || st.UpdatedReplicas != 3 || st.ReadyReplicas != 3 ||
		st.AvailableReplicas != 3 || st.UnavailableReplicas != 0 || st.TerminatingReplicas == nil {
		t.Errorf("status %+v", st)
	}
	if c := h.progressing(); c == nil || c.Reason != reasonNewRSAvailable || c.Status != corev1.ConditionTrue ||
		c.Message != `ReplicaSet "`+rs.Name+`" has successfully progressed.` {
		t.Errorf("Progressing = %+v", c)
	}
	if c := getCondition(st, appsv1.DeploymentAvailable); c == nil || c.Reason != reasonMinimumAvailable || c.Status != corev1.ConditionTrue {
		t.Errorf("Available = %+v", c)
	}
}

// TestRollingUpdate steps a rollout of 4 replicas with maxSurge 1 and
// maxUnavailable 0: never more than 5 pods, never fewer than 4
// available.
func TestRollingUpdate(t *testing.T) {
	d := newDeployment(4, "nginx:1")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	h := newHarness(t, d)
	h.sync()
	h.settle(nil)
	h.sync()
	h.drainEvents()

	h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	steps := []string{"4,1", "3,1", "3,2", "2,2", "2,3", "1,3", "1,4", "0,4"}
	for i, want := range steps {
		h.sync()
		if got := h.sizes(); got != want {
			t.Fatalf("step %d: sizes %s, want %s", i, got, want)
		}
		// The new pods become available only after the step is taken,
		// as kubelets would report them.
		h.settle(nil)
	}
	h.sync()
	rss := h.rss()
	if rss[1].Annotations[revisionAnnotation] != "2" || h.deployment().Annotations[revisionAnnotation] != "2" {
		t.Errorf("revisions: rs %q deployment %q, want 2", rss[1].Annotations[revisionAnnotation], h.deployment().Annotations[revisionAnnotation])
	}
	if c := h.progressing(); c == nil || c.Reason != reasonNewRSAvailable {
		t.Errorf("Progressing = %+v", c)
	}
	st := h.deployment().Status
	if st.UpdatedReplicas != 4 || st.Replicas != 4 || st.AvailableReplicas != 4 || st.ObservedGeneration != 2 {
		t.Errorf("status %+v", st)
	}
	events := strings.Join(h.drainEvents(), "\n")
	for _, want := range []string{
		"Scaled up replica set " + rss[1].Name + " from 0 to 1",
		"Scaled down replica set " + rss[0].Name + " from 4 to 3",
		"Scaled up replica set " + rss[1].Name + " from 3 to 4",
		"Scaled down replica set " + rss[0].Name + " from 1 to 0",
	} {
		if !strings.Contains(events, want) {
			t.Errorf("no event %q in\n%s", want, events)
		}
	}
}

// TestRollingUpdateRemovesUnhealthyOldFirst: unavailable old pods are
// removed even when nothing else may go.
func TestRollingUpdateRemovesUnhealthyOldFirst(t *testing.T) {
	d := newDeployment(4, "nginx:1")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	h := newHarness(t, d)
	h.sync()
	h.settle(nil)
	h.sync()
	old := h.rss()[0].Name
	h.settle(map[string]int32{old: 2}) // two old pods broke
	h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.sync() // new RS at 1
	if got := h.sizes(); got != "4,1" {
		t.Fatalf("sizes %s, want 4,1", got)
	}
	h.settle(map[string]int32{old: 2, h.rss()[1].Name: 0})
	h.sync()
	// maxScaledDown = 5 - 4 - 1 = 0: nothing may go yet.
	if got := h.sizes(); got != "4,1" {
		t.Fatalf("sizes %s, want 4,1", got)
	}
	h.settle(map[string]int32{old: 2})
	h.sync()
	// maxScaledDown = 5 - 4 - 0 = 1: one broken old pod goes.
	if got := h.sizes(); got != "3,1" {
		t.Fatalf("sizes %s, want 3,1", got)
	}
}

func TestRecreate(t *testing.T) {
	d := newDeployment(3, "nginx:1")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	h := newHarness(t, d)
	h.sync()
	h.settle(nil)
	h.sync()
	h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.sync()
	if got := h.sizes(); got != "0" {
		t.Fatalf("sizes %s, want the old one scaled to 0 and no new one", got)
	}
	h.sync() // the old ReplicaSet still reports 3 pods
	if got := h.sizes(); got != "0" {
		t.Fatalf("sizes %s: the new ReplicaSet must wait for the old pods", got)
	}
	h.settle(nil)
	h.sync()
	if got := h.sizes(); got != "0,3" {
		t.Fatalf("sizes %s, want 0,3", got)
	}
}

func TestPauseScalesButDoesNotRollOut(t *testing.T) {
	h := newHarness(t, newDeployment(3, "nginx:1"))
	h.sync()
	h.settle(nil)
	h.sync()
	h.update(func(d *appsv1.Deployment) { d.Spec.Paused = true })
	h.sync()
	if c := h.progressing(); c == nil || c.Reason != reasonPaused || c.Status != corev1.ConditionUnknown || c.Message != "Deployment is paused" {
		t.Errorf("Progressing = %+v", c)
	}
	h.update(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Image = "nginx:2"
		d.Spec.Replicas = ptr.To[int32](5)
	})
	h.sync()
	if got := h.sizes(); got != "5" {
		t.Fatalf("sizes %s, want the one ReplicaSet scaled to 5 and no rollout", got)
	}
	h.settle(nil)
	h.update(func(d *appsv1.Deployment) { d.Spec.Paused = false })
	h.sync()
	// 7 pods at most (maxSurge 2), 4 available at least (maxUnavailable
	// 1): the new ReplicaSet gets 2, and one old pod may go at once.
	if got := h.sizes(); got != "4,2" {
		t.Fatalf("sizes %s after resume, want 4,2", got)
	}
	if c := h.progressing(); c == nil || c.Status != corev1.ConditionTrue || (c.Reason != reasonNewRSCreated && c.Reason != reasonRSUpdated) {
		t.Errorf("Progressing after resume = %+v", c)
	}
}

// TestRollbackReusesOldReplicaSet does what kubectl rollout undo does:
// copy the old ReplicaSet's template (without its hash label) into the
// Deployment.
func TestRollbackReusesOldReplicaSet(t *testing.T) {
	h := newHarness(t, newDeployment(2, "nginx:1"))
	h.sync()
	h.settle(nil)
	h.sync()
	h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	for range 6 {
		h.sync()
		h.settle(nil)
	}
	if got := h.sizes(); got != "0,2" {
		t.Fatalf("sizes %s before rollback, want 0,2", got)
	}
	first := h.rss()[0]
	h.update(func(d *appsv1.Deployment) {
		tmpl := first.Spec.Template.DeepCopy()
		delete(tmpl.Labels, podTemplateHashLabel)
		d.Spec.Template = *tmpl
	})
	for range 6 {
		h.sync()
		h.settle(nil)
	}
	rss := h.rss()
	if len(rss) != 2 {
		t.Fatalf("%d replicasets, want the old one reused", len(rss))
	}
	if got := h.sizes(); got != "2,0" {
		t.Errorf("sizes %s, want 2,0", got)
	}
	if rss[0].Annotations[revisionAnnotation] != "3" || rss[0].Annotations[revisionHistoryAnnotation] != "1" {
		t.Errorf("rolled-back annotations %v, want revision 3, history 1", rss[0].Annotations)
	}
	if got := h.deployment().Annotations[revisionAnnotation]; got != "3" {
		t.Errorf("deployment revision %q, want 3", got)
	}
}

func TestRestartMakesNewReplicaSet(t *testing.T) {
	h := newHarness(t, newDeployment(1, "nginx:1"))
	h.sync()
	h.settle(nil)
	h.update(func(d *appsv1.Deployment) {
		d.Spec.Template.Annotations = map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-01-01T12:00:00Z"}
	})
	h.sync()
	if rss := h.rss(); len(rss) != 2 || rss[1].Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Fatalf("restart made %d replicasets", len(rss))
	}
}

func TestHistoryLimit(t *testing.T) {
	d := newDeployment(1, "v0")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	h := newHarness(t, d)
	h.sync()
	h.settle(nil)
	for i := 1; i <= 3; i++ {
		h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "v" + string(rune('0'+i)) })
		for range 4 {
			h.sync()
			h.settle(nil)
		}
	}
	h.sync()
	rss := h.rss()
	if len(rss) != 2 {
		t.Fatalf("%d replicasets, want the new one and 1 old", len(rss))
	}
	if rss[0].Annotations[revisionAnnotation] != "3" || rss[1].Annotations[revisionAnnotation] != "4" {
		t.Errorf("kept revisions %s,%s, want 3,4", rss[0].Annotations[revisionAnnotation], rss[1].Annotations[revisionAnnotation])
	}
}

func TestProgressDeadline(t *testing.T) {
	d := newDeployment(2, "nginx:1")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](10)
	h := newHarness(t, d)
	h.sync()
	h.settle(map[string]int32{h.rss()[0].Name: 0}) // pods never become available
	h.sync()
	if c := h.progressing(); c == nil || c.Reason != reasonRSUpdated || c.Status != corev1.ConditionTrue {
		t.Fatalf("Progressing = %+v", c)
	}
	h.clock.Step(5 * time.Second)
	h.sync()
	if c := h.progressing(); c.Reason == reasonTimedOut {
		t.Fatal("timed out before the deadline")
	}
	h.clock.Step(10 * time.Second)
	h.sync()
	c := h.progressing()
	if c == nil || c.Reason != reasonTimedOut || c.Status != corev1.ConditionFalse ||
		c.Message != `ReplicaSet "`+h.rss()[0].Name+`" has timed out progressing.` {
		t.Fatalf("Progressing = %+v", c)
	}
	if a := getCondition(h.deployment().Status, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionFalse || a.Reason != reasonMinimumUnavailable {
		t.Errorf("Available = %+v", a)
	}
}

func TestProportionalScaling(t *testing.T) {
	d := newDeployment(10, "nginx:1")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(3)), MaxUnavailable: ptr.To(intstr.FromInt32(2))}
	h := newHarness(t, d)
	h.sync()
	h.settle(nil)
	h.sync()
	h.update(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:2" })
	h.sync()
	h.settle(map[string]int32{h.rss()[1].Name: 0})
	h.sync()
	if got := h.sizes(); got != "8,5" {
		t.Fatalf("sizes %s mid-rollout, want 8,5", got)
	}
	h.update(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](20) })
	h.sync()
	// 13 pods were sized for 13; now 23 are allowed: 8 -> 14, 5 -> 9.
	if got := h.sizes(); got != "14,9" {
		t.Fatalf("sizes %s after scaling to 20, want 14,9", got)
	}
}

func TestSelectingAll(t *testing.T) {
	d := newDeployment(1, "nginx:1")
	d.Spec.Selector = &metav1.LabelSelector{}
	h := newHarness(t, d)
	h.sync()
	if ev := h.drainEvents(); len(ev) != 1 || !strings.Contains(ev[0], "SelectingAll") {
		t.Errorf("events %q", ev)
	}
	if len(h.rss()) != 0 {
		t.Error("a deployment selecting everything made a replicaset")
	}
}

func TestComputeHash(t *testing.T) {
	a := newDeployment(1, "nginx:1").Spec.Template
	b := newDeployment(1, "nginx:2").Spec.Template
	ha, hb := computeHash(&a, nil), computeHash(&b, nil)
	if ha == hb || ha != computeHash(a.DeepCopy(), nil) {
		t.Errorf("hashes %s %s", ha, hb)
	}
	if computeHash(&a, ptr.To[int32](1)) == ha {
		t.Error("collision count does not change the hash")
	}
	for _, r := range ha {
		if !strings.ContainsRune("bcdfghjklmnpqrstvwxz2456789", r) {
			t.Errorf("hash %s has %q, not in SafeEncodeString's alphabet", ha, r)
		}
	}
}
