package registry

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func testPV(name string, mutate ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{ObjectMeta: testMeta(name, ""), Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/mini/storage/pv1"}},
	}}
	for _, m := range mutate {
		m(pv)
	}
	return pv
}

func testPVC(name string, mutate ...func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: testMeta(name, "default"), Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
	}}
	for _, m := range mutate {
		m(pvc)
	}
	return pvc
}

func TestPersistentVolumes(t *testing.T) {
	r := PersistentVolumes()
	pv := testPV("pv1")
	r.Default(pv)
	r.PrepareForCreate(pv)
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || *pv.Spec.VolumeMode != corev1.PersistentVolumeFilesystem ||
		pv.Status.Phase != corev1.VolumePending || pv.Status.LastPhaseTransitionTime == nil || *pv.Spec.HostPath.Type != corev1.HostPathUnset {
		t.Errorf("defaults: %+v", pv)
	}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: pv},
		{name: "no access modes, capacity or source", obj: testPV("pv1", func(pv *corev1.PersistentVolume) {
			pv.Spec = corev1.PersistentVolumeSpec{}
		}), want: []string{"FieldValueRequired spec.accessModes", "FieldValueRequired spec.capacity", "FieldValueNotSupported spec.capacity", "FieldValueRequired spec"}},
		{name: "two sources", obj: testPV("pv1", func(pv *corev1.PersistentVolume) {
			pv.Spec.NFS = &corev1.NFSVolumeSource{Server: "nfs", Path: "/export"}
		}),
			want: []string{"FieldValueForbidden spec.nfs"}},
		{name: "hostPath with ..", obj: testPV("pv1", func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/srv/../etc" }),
			want: []string{"FieldValueInvalid spec.hostPath.path"}},
		{name: "local needs node affinity", obj: testPV("pv1", func(pv *corev1.PersistentVolume) {
			pv.Spec.HostPath, pv.Spec.Local = nil, &corev1.LocalVolumeSource{Path: "/mnt/disk"}
		}), want: []string{"FieldValueRequired spec.nodeAffinity"}},
		{name: "RWOP with others", obj: testPV("pv1", func(pv *corev1.PersistentVolume) {
			pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadWriteMany, "ReadSometimes"}
		}), want: []string{"FieldValueNotSupported spec.accessModes", "FieldValueForbidden spec.accessModes"}},
		{name: "zero capacity", obj: testPV("pv1", func(pv *corev1.PersistentVolume) { pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("0") }),
			want: []string{"FieldValueInvalid spec.capacity[storage]"}},
		{name: "source is immutable", obj: testPV("pv1", func(pv *corev1.PersistentVolume) { pv.Spec.HostPath.Path = "/other" }), old: pv,
			want: []string{"FieldValueForbidden spec.persistentvolumesource"}},
	})
	pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "data"}
	pv.Spec.StorageClassName = "local-path"
	want := []any{"pv1", "1Gi", "RWO", "Retain", "Pending", "default/data", "local-path", "<unset>", "", "<unknown>", "Filesystem"}
	if got := r.Cells(pv); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v\nwant %#v", got, want)
	}
	bound := pv.DeepCopy()
	bound.Status.Phase = corev1.VolumeBound
	r.PrepareForUpdate(bound, pv, "status")
	if bound.Status.LastPhaseTransitionTime == pv.Status.LastPhaseTransitionTime {
		t.Errorf("phase change kept the transition time")
	}
}

func TestPersistentVolumeClaims(t *testing.T) {
	r := PersistentVolumeClaims()
	pvc := testPVC("data")
	r.Default(pvc)
	r.PrepareForCreate(pvc)
	if pvc.Status.Phase != corev1.ClaimPending || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Errorf("defaults: %+v", pvc)
	}
	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pv1"
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}}
	grow := func(size string) func(*corev1.PersistentVolumeClaim) {
		return func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeName, c.Status = "pv1", bound.Status
			c.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse(size)
		}
	}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: pvc},
		{name: "no size, no modes", obj: testPVC("data", func(c *corev1.PersistentVolumeClaim) { c.Spec = corev1.PersistentVolumeClaimSpec{} }),
			want: []string{"FieldValueRequired spec.accessModes", "FieldValueRequired spec.resources[storage]"}},
		{name: "bad class", obj: testPVC("data", func(c *corev1.PersistentVolumeClaim) { cls := "Fast_SSD"; c.Spec.StorageClassName = &cls }),
			want: []string{"FieldValueInvalid spec.storageClassName"}},
		{name: "volume name set once", obj: testPVC("data", func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv1" }), old: pvc},
		{name: "spec immutable", obj: testPVC("data", func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		}), old: pvc, want: []string{"FieldValueForbidden spec"}},
		{name: "bound claim grows", obj: testPVC("data", grow("2Gi")), old: bound},
		{name: "bound claim may not shrink", obj: testPVC("data", grow("512Mi")), old: bound,
			want: []string{"FieldValueForbidden spec.resources.requests.storage"}},
	})
	want := []any{"data", "Bound", "pv1", "1Gi", "RWO", "", "<unset>", "<unknown>", "Filesystem"}
	if got := r.Cells(bound); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v\nwant %#v", got, want)
	}
}

func TestStorageClasses(t *testing.T) {
	r := StorageClasses()
	sc := &storagev1.StorageClass{ObjectMeta: testMeta("local-path", ""), Provisioner: "rancher.io/local-path"}
	sc.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	r.Default(sc)
	if *sc.ReclaimPolicy != corev1.PersistentVolumeReclaimDelete || *sc.VolumeBindingMode != storagev1.VolumeBindingImmediate {
		t.Errorf("defaults: %+v", sc)
	}
	want := []any{"local-path (default)", "rancher.io/local-path", "Delete", "Immediate", false, "<unknown>"}
	if got := r.Cells(sc); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v", got)
	}
	recycle := corev1.PersistentVolumeReclaimRecycle
	changed := sc.DeepCopy()
	changed.Provisioner, changed.Parameters = "other", map[string]string{"a": "b"}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: sc},
		{name: "no provisioner, recycle", obj: &storagev1.StorageClass{ObjectMeta: testMeta("sc", ""), ReclaimPolicy: &recycle},
			want: []string{"FieldValueRequired provisioner", "FieldValueNotSupported reclaimPolicy"}},
		{name: "fixed after creation", obj: changed, old: sc,
			want: []string{"FieldValueForbidden parameters", "FieldValueForbidden provisioner"}},
		{name: "duplicate topology values", obj: &storagev1.StorageClass{ObjectMeta: testMeta("sc", ""), Provisioner: "p",
			AllowedTopologies: []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: "zone", Values: []string{"a", "a"}}}}}},
			want: []string{"FieldValueDuplicate allowedTopologies[0].matchLabelExpressions[0].values[1]"}},
	})
}
