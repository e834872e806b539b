package history

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

var stsKind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}

func set(image string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-web"},
		Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
		}},
	}
}

func TestHashes(t *testing.T) {
	a, b := set("nginx:1"), set("nginx:2")
	if ComputeHash(&a.Spec.Template, nil) != ComputeHash(&set("nginx:1").Spec.Template, nil) {
		t.Error("ComputeHash is not deterministic")
	}
	if ComputeHash(&a.Spec.Template, nil) == ComputeHash(&b.Spec.Template, nil) {
		t.Error("different templates hash equally")
	}
	if ComputeHash(&a.Spec.Template, nil) == ComputeHash(&a.Spec.Template, ptr.To[int32](1)) {
		t.Error("collision count does not change the hash")
	}
	pa, _ := TemplatePatch(a)
	r1 := New(a, stsKind, a.Spec.Template.Labels, pa, 1, ptr.To[int32](0))
	r2 := New(a, stsKind, a.Spec.Template.Labels, pa, 2, ptr.To[int32](0))
	if r1.Name != r2.Name || !strings.HasPrefix(r1.Name, "web-") || r1.Labels[HashLabel] == "" || r1.Labels["app"] != "web" {
		t.Errorf("revision names %q %q labels %v", r1.Name, r2.Name, r1.Labels)
	}
	if !metav1.IsControlledBy(r1, a) {
		t.Error("revision not controlled by its parent")
	}
	if !strings.Contains(string(pa), `"$patch":"replace"`) || !strings.Contains(string(pa), `"nginx:1"`) {
		t.Errorf("patch %s", pa)
	}
}

func TestCreateCollision(t *testing.T) {
	ctx := context.Background()
	a, b := set("nginx:1"), set("nginx:2")
	pa, _ := TemplatePatch(a)
	pb, _ := TemplatePatch(b)
	ra := New(a, stsKind, nil, pa, 1, ptr.To[int32](0))
	// Someone else's revision squats the name ra would get.
	squat := ra.DeepCopy()
	squat.Data.Raw = pb
	client := fake.NewClientset(squat)
	count := ptr.To[int32](0)
	got, err := Create(ctx, client.AppsV1(), a, ra, count)
	if err != nil {
		t.Fatal(err)
	}
	if *count != 1 || got.Name == squat.Name {
		t.Errorf("collision count %d, name %q (squatted %q)", *count, got.Name, squat.Name)
	}
	// Creating an equal revision again returns it without a new collision.
	again, err := Create(ctx, client.AppsV1(), a, ra, count)
	if err != nil || again.Name != got.Name || *count != 1 {
		t.Errorf("again = %v, %v, count %d", again.Name, err, *count)
	}
}

func TestTruncate(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		revs  int
		live  map[int64]bool
		limit int
		want  []int64 // remaining revision numbers
	}{
		{name: "under limit", revs: 3, limit: 10, want: []int64{1, 2, 3}},
		{name: "oldest go first", revs: 5, limit: 2, want: []int64{4, 5}},
		{name: "live ones stay", revs: 5, live: map[int64]bool{1: true, 5: true}, limit: 1, want: []int64{1, 4, 5}},
		{name: "limit zero", revs: 3, live: map[int64]bool{3: true}, limit: 0, want: []int64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset()
			var revs []*appsv1.ControllerRevision
			for i := 1; i <= tt.revs; i++ {
				s := set("nginx:" + string(rune('0'+i)))
				p, _ := TemplatePatch(s)
				r, err := Create(ctx, client.AppsV1(), s, New(s, stsKind, nil, p, int64(i), ptr.To[int32](0)), ptr.To[int32](0))
				if err != nil {
					t.Fatal(err)
				}
				revs = append(revs, r)
			}
			if err := Truncate(ctx, client.AppsV1(), revs, func(r *appsv1.ControllerRevision) bool { return tt.live[r.Revision] }, tt.limit); err != nil {
				t.Fatal(err)
			}
			list, _ := client.AppsV1().ControllerRevisions("ns").List(ctx, metav1.ListOptions{})
			var got []*appsv1.ControllerRevision
			for i := range list.Items {
				got = append(got, &list.Items[i])
			}
			Sort(got)
			if len(got) != len(tt.want) {
				t.Fatalf("%d revisions left, want %v", len(got), tt.want)
			}
			for i, r := range got {
				if r.Revision != tt.want[i] {
					t.Errorf("revision %d left, want %d", r.Revision, tt.want[i])
				}
			}
		})
	}
}
