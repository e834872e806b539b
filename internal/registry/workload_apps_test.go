package registry

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var webLabels = map[string]string{"app": "web"}

func testTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: webLabels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx:1.27"}}}}
}

func testDeployment(mutate ...func(*appsv1.Deployment)) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: testMeta("web", "default"), Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: testTemplate()}}
	for _, m := range mutate {
		m(d)
	}
	return d
}

func TestDeploymentDefaults(t *testing.T) {
	d := testDeployment()
	Deployments().Default(d)
	want := appsv1.DeploymentSpec{
		Replicas: ptr.To[int32](1), RevisionHistoryLimit: ptr.To[int32](10), ProgressDeadlineSeconds: ptr.To[int32](600),
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
	}
	got := d.Spec
	got.Selector, got.Template = nil, corev1.PodTemplateSpec{}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("defaults:\n%+v\nwant\n%+v", got, want)
	}
	if d.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways || d.Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("template not defaulted: %+v", d.Spec.Template.Spec)
	}
	recreate := testDeployment(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType })
	Deployments().Default(recreate)
	if recreate.Spec.Strategy.RollingUpdate != nil {
		t.Error("Recreate got rolling update parameters")
	}
}

func TestDeploymentValidation(t *testing.T) {
	old := testDeployment()
	Deployments().Default(old)
	runValidation(t, Deployments(), []validationCase{
		{name: "valid", obj: testDeployment()},
		{name: "no selector", obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Selector = nil }),
			want: []string{"FieldValueRequired spec.selector", "FieldValueInvalid spec.template.metadata.labels"}},
		{name: "empty selector", obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }),
			want: []string{"FieldValueInvalid spec.selector"}},
		{name: "selector does not match", obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels = map[string]string{"app": "db"} }),
			want: []string{"FieldValueInvalid spec.template.metadata.labels"}},
		{name: "restart policy and deadline", obj: testDeployment(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](5)
		}), want: []string{"FieldValueNotSupported spec.template.spec.restartPolicy", "FieldValueForbidden spec.template.spec.activeDeadlineSeconds"}},
		{name: "container without image", obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" }),
			want: []string{"FieldValueRequired spec.template.spec.containers[0].image"}},
		{name: "negative replicas", obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Replicas = ptr.To[int32](-1) }),
			want: []string{"FieldValueInvalid spec.replicas"}},
		{name: "zero surge and unavailable", obj: testDeployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(0)), MaxUnavailable: ptr.To(intstr.FromString("0%"))}
		}), want: []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{name: "recreate with rolling update", obj: testDeployment(func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{}}
		}), want: []string{"FieldValueForbidden spec.strategy.rollingUpdate"}},
		{name: "progress deadline below min ready", obj: testDeployment(func(d *appsv1.Deployment) {
			d.Spec.MinReadySeconds, d.Spec.ProgressDeadlineSeconds = 10, ptr.To[int32](10)
		}), want: []string{"FieldValueInvalid spec.progressDeadlineSeconds"}},
		{name: "selector changed", old: old, obj: testDeployment(func(d *appsv1.Deployment) {
			d.Spec.Selector.MatchLabels = map[string]string{"app": "web", "tier": "front"}
			d.Spec.Template.Labels = map[string]string{"app": "web", "tier": "front"}
		}), want: []string{"FieldValueInvalid spec.selector"}},
		{name: "image changed", old: old, obj: testDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28" })},
	})
}

func TestDeploymentWrites(t *testing.T) {
	r := Deployments()
	d := testDeployment(func(d *appsv1.Deployment) { d.Status.Replicas = 3 })
	r.Default(d)
	r.PrepareForCreate(d)
	if d.Status.Replicas != 0 {
		t.Fatalf("status kept on create: %+v", d.Status)
	}
	old := d.DeepCopy()
	old.Status.ReadyReplicas = 1
	upd := d.DeepCopy()
	upd.Annotations = map[string]string{"kubernetes.io/change-cause": "x"}
	r.PrepareForUpdate(upd, old, "")
	if upd.Status.ReadyReplicas != 1 || !r.SpecChanged(upd, old) {
		t.Errorf("main update: status %+v, spec changed %v", upd.Status, r.SpecChanged(upd, old))
	}
	st := old.DeepCopy()
	st.Spec.Replicas = ptr.To[int32](9)
	st.Status.ReadyReplicas = 2
	r.PrepareForUpdate(st, old, "status")
	if *st.Spec.Replicas != 1 || st.Status.ReadyReplicas != 2 || r.SpecChanged(st, old) {
		t.Errorf("status update: %+v", st)
	}
	r.Scale.Set(st, 5)
	if spec, status, sel := r.Scale.Get(st); spec != 5 || status != 0 || sel != "app=web" {
		t.Errorf("scale: %d %d %q", spec, status, sel)
	}
}

func TestReplicaSetValidation(t *testing.T) {
	rs := func(mutate ...func(*appsv1.ReplicaSet)) *appsv1.ReplicaSet {
		r := &appsv1.ReplicaSet{ObjectMeta: testMeta("web-1", "default"), Spec: appsv1.ReplicaSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: testTemplate()}}
		for _, m := range mutate {
			m(r)
		}
		return r
	}
	old := rs()
	ReplicaSets().Default(old)
	runValidation(t, ReplicaSets(), []validationCase{
		{name: "valid", obj: rs()},
		{name: "deadline", obj: rs(func(r *appsv1.ReplicaSet) { r.Spec.Template.Spec.ActiveDeadlineSeconds = ptr.To[int64](1) }),
			want: []string{"FieldValueForbidden spec.template.spec.activeDeadlineSeconds"}},
		{name: "selector changed", old: old, obj: rs(func(r *appsv1.ReplicaSet) {
			r.Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}
		}), want: []string{"FieldValueInvalid spec.selector"}},
		{name: "scaled", old: old, obj: rs(func(r *appsv1.ReplicaSet) { r.Spec.Replicas = ptr.To[int32](4) })},
		{name: "bad status", old: old, obj: rs(func(r *appsv1.ReplicaSet) { r.Status.ReadyReplicas = 2 }),
			want: []string{"FieldValueInvalid status.readyReplicas"}},
	})
	if f := ReplicaSets().Fields(rs(func(r *appsv1.ReplicaSet) { r.Status.Replicas = 2 })); f["status.replicas"] != "2" {
		t.Errorf("fields %v", f)
	}
}

func TestStatefulSetDefaultsAndValidation(t *testing.T) {
	sts := func(mutate ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{ObjectMeta: testMeta("db", "default"), Spec: appsv1.StatefulSetSpec{ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: testTemplate(),
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}}}
		for _, m := range mutate {
			m(s)
		}
		return s
	}
	s := sts()
	StatefulSets().Default(s)
	u := s.Spec.UpdateStrategy
	if s.Spec.PodManagementPolicy != appsv1.OrderedReadyPodManagement || u.Type != appsv1.RollingUpdateStatefulSetStrategyType ||
		*u.RollingUpdate.Partition != 0 || u.RollingUpdate.MaxUnavailable.IntValue() != 1 || *s.Spec.Replicas != 1 || *s.Spec.RevisionHistoryLimit != 10 ||
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType ||
		s.Spec.VolumeClaimTemplates[0].Status.Phase != corev1.ClaimPending || *s.Spec.VolumeClaimTemplates[0].Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("defaults: %+v", s.Spec)
	}
	runValidation(t, StatefulSets(), []validationCase{
		{name: "valid", obj: sts()},
		{name: "name not a DNS label", obj: sts(func(s *appsv1.StatefulSet) { s.Name = "db.main" }), want: []string{"FieldValueInvalid metadata.name"}},
		{name: "template spec is not validated", obj: sts(func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].Image = "" })},
		{name: "bad policy", obj: sts(func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" }),
			want: []string{"FieldValueInvalid spec.podManagementPolicy"}},
		{name: "on delete with rolling update", obj: sts(func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{}}
		}), want: []string{"FieldValueInvalid spec.updateStrategy.rollingUpdate"}},
		{name: "service name changed", old: s, obj: sts(func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "other" }),
			want: []string{"FieldValueForbidden spec"}},
		{name: "scaled and new image", old: s, obj: sts(func(s *appsv1.StatefulSet) {
			s.Spec.Replicas = ptr.To[int32](3)
			s.Spec.Template.Spec.Containers[0].Image = "postgres:17"
		})},
	})
}

func TestDaemonSetTemplateGeneration(t *testing.T) {
	r := DaemonSets()
	ds := &appsv1.DaemonSet{ObjectMeta: testMeta("agent", "kube-system"), Spec: appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: webLabels}, Template: testTemplate()}}
	r.Default(ds)
	r.PrepareForCreate(ds)
	if ds.Annotations[appsv1.DeprecatedTemplateGeneration] != "1" || ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable.IntValue() != 1 ||
		ds.Spec.UpdateStrategy.RollingUpdate.MaxSurge.IntValue() != 0 || *ds.Spec.RevisionHistoryLimit != 10 {
		t.Fatalf("created: %+v %+v", ds.Annotations, ds.Spec)
	}
	if errs := r.Validate(ds); len(errs) > 0 {
		t.Fatal(errs)
	}
	upd := ds.DeepCopy()
	upd.Annotations = nil // a replace without the annotation keeps it
	upd.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
	r.PrepareForUpdate(upd, ds, "")
	if upd.Annotations[appsv1.DeprecatedTemplateGeneration] != "2" || !r.SpecChanged(upd, ds) {
		t.Errorf("template change: %v", upd.Annotations)
	}
	runValidation(t, r, []validationCase{
		{name: "surge and unavailable", obj: func() runtime.Object {
			d := ds.DeepCopy()
			d.Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(1))
			return d
		}(), want: []string{"FieldValueInvalid spec.updateStrategy.rollingUpdate.maxSurge"}},
		{name: "restart never", obj: func() runtime.Object {
			d := ds.DeepCopy()
			d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
			return d
		}(), want: []string{"FieldValueNotSupported spec.template.spec.restartPolicy"}},
	})
}

func TestControllerRevision(t *testing.T) {
	cr := &appsv1.ControllerRevision{ObjectMeta: testMeta("agent-5d8f", "kube-system"), Revision: 2,
		Data: runtime.RawExtension{Raw: []byte(`{"spec":{}}`)}}
	cr.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "agent", UID: "u", Controller: ptr.To(true)}}
	if cells := ControllerRevisions().Cells(cr); cells[1] != "daemonset.apps/agent" || cells[2] != int64(2) {
		t.Errorf("cells %v", cells)
	}
	changed := cr.DeepCopy()
	changed.Data.Raw = []byte(`{"spec":{"x":1}}`)
	runValidation(t, ControllerRevisions(), []validationCase{
		{name: "valid", obj: cr},
		{name: "no data", obj: &appsv1.ControllerRevision{ObjectMeta: testMeta("r", "default")}, want: []string{"FieldValueRequired data"}},
		{name: "data changed", obj: changed, old: cr, want: []string{"FieldValueInvalid data"}},
	})
}

func TestAppsTables(t *testing.T) {
	d := testDeployment(func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ReadyReplicas: 1, UpdatedReplicas: 2, AvailableReplicas: 1}
		d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, corev1.Container{Name: "log", Image: "busybox"})
	})
	Deployments().Default(d)
	cells := Deployments().Cells(d)
	want := []any{"web", "1/1", int64(2), int64(1), "<unknown>", "web,log", "nginx:1.27,busybox", "app=web"}
	for i := range want {
		if cells[i] != want[i] {
			t.Errorf("deployment cell %d = %v, want %v", i, cells[i], want[i])
		}
	}
	for _, r := range []*Resource{Deployments(), ReplicaSets(), StatefulSets(), DaemonSets(), ControllerRevisions(), Jobs(), CronJobs(), Pods()} {
		wide := 0
		for _, c := range r.Columns {
			if c.Priority == 1 {
				wide++
			}
		}
		if r.Columns[0].Name != "Name" || wide == 0 && r.Kind != "ControllerRevision" {
			t.Errorf("%s columns: %+v", r.Kind, r.Columns)
		}
	}
}
