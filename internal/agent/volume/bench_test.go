package volume

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// BenchmarkSetUpTypicalPod sets up and tears down the volumes an
// ordinary pod has: the admission-injected kube-api-access projected
// volume, a configMap and an emptyDir.
func BenchmarkSetUpTypicalPod(b *testing.B) {
	m, _, _ := newTestManager(b, testObjects()...)
	volumes := []corev1.Volume{
		{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(3607))}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}, Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}},
		{Name: "cfg", VolumeSource: cmVolume("cm", false)},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}, {Name: "cfg", MountPath: "/cfg"}, {Name: "scratch", MountPath: "/tmp"}}
	ctx := context.Background()
	var first, again, down time.Duration
	b.ResetTimer()
	for i := range b.N {
		pod := testPod(volumes, mounts)
		pod.UID = types.UID(fmt.Sprintf("0a1b2c3d-0000-4000-8000-%012d", i))
		t0 := time.Now()
		if _, err := m.SetUp(ctx, pod); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := m.SetUp(ctx, pod); err != nil { // the next sync
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := m.TearDown(pod.UID); err != nil {
			b.Fatal(err)
		}
		first, again, down = first+t1.Sub(t0), again+time.Since(t1)-time.Since(t2), down+time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(first.Microseconds())/n, "setup-µs/op")
	b.ReportMetric(float64(again.Microseconds())/n, "resync-µs/op")
	b.ReportMetric(float64(down.Microseconds())/n, "teardown-µs/op")
}
