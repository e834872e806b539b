package statefulset

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestOrderedCreation(t *testing.T) {
	h := newHarness(t, withClaims(statefulSet("web", 3, appsv1.OrderedReadyPodManagement)))
	h.sync("web")
	if got := h.podNames(); !slices.Equal(got, []string{"web-0"}) {
		t.Fatalf("pods %v, want web-0 only", got)
	}
	p := h.pod("web-0")
	if p.Spec.Hostname != "web-0" || p.Spec.Subdomain != "web" || p.Labels[appsv1.StatefulSetPodNameLabel] != "web-0" ||
		p.Labels[appsv1.PodIndexLabel] != "0" || p.Labels[appsv1.StatefulSetRevisionLabel] == "" {
		t.Errorf("pod identity: hostname %q subdomain %q labels %v", p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].Name != "data" || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-0" {
		t.Errorf("volumes %+v", p.Spec.Volumes)
	}
	pvc, err := h.client.CoreV1().PersistentVolumeClaims("default").Get(h.ctx, "data-web-0", metav1.GetOptions{})
	if err != nil || pvc.Labels["app"] != "web" || len(pvc.OwnerReferences) != 0 {
		t.Errorf("pvc %v, %v", pvc, err)
	}
	wantEvents := []string{"Normal SuccessfulCreate create Claim data-web-0 Pod web-0 in StatefulSet web success",
		"Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful"}
	if got := h.ev.List(); !slices.Equal(got, wantEvents) {
		t.Errorf("events %q, want %q", got, wantEvents)
	}
	// Nothing more until web-0 is Running and Ready.
	h.sync("web")
	if got := h.podNames(); len(got) != 1 {
		t.Fatalf("pods %v before web-0 ready", got)
	}
	st := h.get("web").Status
	if st.Replicas != 1 || st.ReadyReplicas != 0 || st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	h.ready("web-0")
	h.sync("web")
	if got := h.podNames(); !slices.Equal(got, []string{"web-0", "web-1"}) {
		t.Fatalf("pods %v", got)
	}
	h.ready("web-1")
	h.sync("web")
	h.ready("web-2")
	h.sync("web")
	if got := h.podNames(); !slices.Equal(got, []string{"web-0", "web-1", "web-2"}) {
		t.Fatalf("pods %v", got)
	}
	st = h.get("web").Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 {
		t.Errorf("status %+v", st)
	}
}

func TestParallelAndOrdinalsStart(t *testing.T) {
	s := statefulSet("db", 3, appsv1.ParallelPodManagement)
	s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
	h := newHarness(t, s)
	h.sync("db")
	if got := h.podNames(); !slices.Equal(got, []string{"db-5", "db-6", "db-7"}) {
		t.Fatalf("pods %v, want db-5..7 at once", got)
	}
	// Parallel scale down removes all surplus pods at once.
	s = h.get("db")
	s.Spec.Replicas = ptr.To[int32](1)
	h.update(s)
	h.sync("db")
	if got := h.podNames(); !slices.Equal(got, []string{"db-5"}) {
		t.Fatalf("pods %v, want db-5", got)
	}
}

func TestScaleDownInReverseOrder(t *testing.T) {
	h := newHarness(t, statefulSet("web", 3, appsv1.OrderedReadyPodManagement))
	for range 3 {
		h.sync("web")
		h.ready()
	}
	s := h.get("web")
	s.Spec.Replicas = ptr.To[int32](1)
	h.update(s)
	h.sync("web")
	if got := h.podNames(); !slices.Equal(got, []string{"web-0", "web-1"}) {
		t.Fatalf("pods %v, want web-2 deleted first", got)
	}
	if !slices.Contains(h.ev.List(), "Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful") {
		t.Errorf("events %q", h.ev.List())
	}
	h.sync("web")
	if got := h.podNames(); !slices.Equal(got, []string{"web-0"}) {
		t.Fatalf("pods %v, want web-0", got)
	}
}

func TestPartitionedRollingUpdate(t *testing.T) {
	h := newHarness(t, statefulSet("web", 3, appsv1.OrderedReadyPodManagement))
	for range 3 {
		h.sync("web")
		h.ready()
	}
	rev1 := h.get("web").Status.CurrentRevision
	s := h.get("web")
	s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1)
	h.update(s)

	image := func(name string) string { return h.pod(name).Spec.Containers[0].Image }
	h.sync("web") // deletes web-2
	if got := h.podNames(); !slices.Equal(got, []string{"web-0", "web-1"}) {
		t.Fatalf("pods %v, want web-2 deleted for update", got)
	}
	h.sync("web") // recreates web-2 at the new revision
	if image("web-2") != "nginx:2" {
		t.Fatalf("web-2 runs %s", image("web-2"))
	}
	h.sync("web") // waits: web-2 not ready
	if got := h.podNames(); len(got) != 3 {
		t.Fatalf("pods %v while waiting for web-2", got)
	}
	h.ready("web-2")
	h.sync("web") // deletes web-1
	h.sync("web") // recreates it
	h.ready("web-1")
	h.sync("web") // partition reached: web-0 stays
	if image("web-0") != "nginx:1" || image("web-1") != "nginx:2" || image("web-2") != "nginx:2" {
		t.Fatalf("images %s %s %s", image("web-0"), image("web-1"), image("web-2"))
	}
	st := h.get("web").Status
	if st.CurrentRevision != rev1 || st.UpdateRevision == rev1 || st.UpdatedReplicas != 2 || st.CurrentReplicas != 1 {
		t.Fatalf("status %+v", st)
	}
	// Lowering the partition finishes the rollout.
	s = h.get("web")
	s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0)
	h.update(s)
	h.sync("web")
	h.sync("web")
	h.ready("web-0")
	h.sync("web")
	st = h.get("web").Status
	if image("web-0") != "nginx:2" || st.CurrentRevision != st.UpdateRevision || st.CurrentReplicas != 3 || st.UpdatedReplicas != 3 {
		t.Fatalf("after rollout: web-0 %s, status %+v", image("web-0"), st)
	}
	revs, _ := h.client.AppsV1().ControllerRevisions("default").List(h.ctx, metav1.ListOptions{})
	if len(revs.Items) != 2 {
		t.Errorf("%d revisions, want 2", len(revs.Items))
	}
}

func TestFailedPodIsRecreated(t *testing.T) {
	h := newHarness(t, statefulSet("web", 1, appsv1.OrderedReadyPodManagement))
	h.sync("web")
	p := h.pod("web-0").DeepCopy()
	uid := p.UID
	p.Status.Phase = corev1.PodFailed
	if _, err := h.client.CoreV1().Pods("default").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sync("web")
	if p := h.pod("web-0"); p.UID == uid || p.Status.Phase != corev1.PodPending {
		t.Errorf("web-0 not recreated: uid %s phase %s", p.UID, p.Status.Phase)
	}
	if !slices.Contains(h.ev.List(), "Warning RecreatingFailedPod StatefulSet default/web is recreating failed Pod web-0") {
		t.Errorf("events %q", h.ev.List())
	}
}

func TestClaimRetention(t *testing.T) {
	del, retain := appsv1.DeletePersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	tests := []struct {
		name                    string
		whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType
		keptOwners, goneOwners  []string // owner kinds of data-web-0 and data-web-1 after scaling to 1
	}{
		{"retain both", retain, retain, nil, nil},
		{"delete with set", del, retain, []string{"StatefulSet"}, []string{"StatefulSet"}},
		{"delete when scaled", retain, del, nil, []string{"Pod"}},
		{"delete both", del, del, []string{"StatefulSet"}, []string{"Pod"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := withClaims(statefulSet("web", 2, appsv1.ParallelPodManagement))
			s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: tt.whenDeleted, WhenScaled: tt.whenScaled}
			h := newHarness(t, s)
			h.sync("web")
			h.ready()
			s = h.get("web")
			s.Spec.Replicas = ptr.To[int32](1)
			h.update(s)
			h.sync("web")
			kinds := func(name string) []string {
				pvc, err := h.client.CoreV1().PersistentVolumeClaims("default").Get(h.ctx, name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, r := range pvc.OwnerReferences {
					out = append(out, r.Kind)
					if r.Kind == "Pod" && r.Name != "web-1" {
						t.Errorf("%s owned by pod %s", name, r.Name)
					}
				}
				return out
			}
			if got := kinds("data-web-0"); !slices.Equal(got, tt.keptOwners) {
				t.Errorf("data-web-0 owners %v, want %v", got, tt.keptOwners)
			}
			if got := kinds("data-web-1"); !slices.Equal(got, tt.goneOwners) {
				t.Errorf("data-web-1 owners %v, want %v", got, tt.goneOwners)
			}
		})
	}
}

func TestRollbackReusesRevision(t *testing.T) {
	h := newHarness(t, statefulSet("web", 1, appsv1.OrderedReadyPodManagement))
	h.sync("web")
	h.ready()
	h.sync("web")
	rev1 := h.get("web").Status.UpdateRevision
	s := h.get("web")
	s.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	h.update(s)
	h.sync("web")
	s = h.get("web")
	s.Spec.Template.Spec.Containers[0].Image = "nginx:1"
	h.update(s)
	h.sync("web")
	st := h.get("web").Status
	if st.UpdateRevision != rev1 {
		t.Fatalf("update revision %s, want the first %s reused", st.UpdateRevision, rev1)
	}
	r, err := h.client.AppsV1().ControllerRevisions("default").Get(h.ctx, rev1, metav1.GetOptions{})
	if err != nil || r.Revision != 3 || !strings.HasPrefix(r.Name, "web-") {
		t.Errorf("revision %v %v, want number 3", r, err)
	}
}
