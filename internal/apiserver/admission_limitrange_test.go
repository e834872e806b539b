package apiserver

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func resources(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func limitRange(items ...corev1.LimitRangeItem) *corev1.LimitRange {
	return &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "default"}, Spec: corev1.LimitRangeSpec{Limits: items}}
}

func TestLimitRangeDefaults(t *testing.T) {
	lr := limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer,
		Default: resources("cpu", "500m", "memory", "256Mi"), DefaultRequest: resources("cpu", "100m", "memory", "128Mi")})
	pod := testPod(func(p *corev1.Pod) {
		// The sidecar states its own cpu; it keeps it.
		p.Spec.Containers[1].Resources = corev1.ResourceRequirements{Requests: resources("cpu", "50m"), Limits: resources("cpu", "1")}
	})
	if err := applyLimitRanges(pod, []*corev1.LimitRange{lr}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c                corev1.Container
		requests, limits corev1.ResourceList
	}{
		{pod.Spec.Containers[0], resources("cpu", "100m", "memory", "128Mi"), resources("cpu", "500m", "memory", "256Mi")},
		{pod.Spec.Containers[1], resources("cpu", "50m", "memory", "128Mi"), resources("cpu", "1", "memory", "256Mi")},
		{pod.Spec.InitContainers[0], resources("cpu", "100m", "memory", "128Mi"), resources("cpu", "500m", "memory", "256Mi")},
	} {
		for name, want := range tc.requests {
			if got := tc.c.Resources.Requests[name]; got.Cmp(want) != 0 {
				t.Errorf("%s request %s = %s, want %s", tc.c.Name, name, got.String(), want.String())
			}
		}
		for name, want := range tc.limits {
			if got := tc.c.Resources.Limits[name]; got.Cmp(want) != 0 {
				t.Errorf("%s limit %s = %s, want %s", tc.c.Name, name, got.String(), want.String())
			}
		}
	}
	want := "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web; " +
		"memory request for container side; memory limit for container side; " +
		"cpu, memory request for init container init; cpu, memory limit for init container init"
	if got := pod.Annotations[limitRangerAnnotation]; got != want {
		t.Errorf("annotation\n got %q\nwant %q", got, want)
	}

	// A namespace without defaults leaves the pod alone.
	bare := testPod()
	if err := applyLimitRanges(bare, []*corev1.LimitRange{limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Max: resources("cpu", "1")})}); err == nil {
		t.Error("a container without a limit passed a max")
	}
	if _, ok := bare.Annotations[limitRangerAnnotation]; ok {
		t.Error("annotated without defaults")
	}
}

func TestLimitRangeChecks(t *testing.T) {
	one := func(requests, limits corev1.ResourceList) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "default"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}}}
	}
	container := func(item corev1.LimitRangeItem) *corev1.LimitRange {
		item.Type = corev1.LimitTypeContainer
		return limitRange(item)
	}
	for _, tc := range []struct {
		name string
		lr   *corev1.LimitRange
		pod  *corev1.Pod
		want string // "" admits
	}{
		{"min request", container(corev1.LimitRangeItem{Min: resources("cpu", "100m")}), one(resources("cpu", "50m"), nil),
			"minimum cpu usage per Container is 100m, but request is 50m"},
		{"min without request", container(corev1.LimitRangeItem{Min: resources("cpu", "100m")}), one(nil, nil),
			"minimum cpu usage per Container is 100m.  No request is specified"},
		{"min limit", container(corev1.LimitRangeItem{Min: resources("memory", "64Mi")}), one(resources("memory", "64Mi"), resources("memory", "32Mi")),
			"minimum memory usage per Container is 64Mi, but limit is 32Mi"},
		{"min met", container(corev1.LimitRangeItem{Min: resources("cpu", "100m")}), one(resources("cpu", "0.1"), nil), ""},
		{"max limit", container(corev1.LimitRangeItem{Max: resources("cpu", "1")}), one(resources("cpu", "1"), resources("cpu", "2")),
			"maximum cpu usage per Container is 1, but limit is 2"},
		{"max without limit", container(corev1.LimitRangeItem{Max: resources("memory", "1Gi")}), one(nil, nil),
			"maximum memory usage per Container is 1Gi.  No limit is specified"},
		{"ratio", container(corev1.LimitRangeItem{MaxLimitRequestRatio: resources("cpu", "2")}), one(resources("cpu", "100m"), resources("cpu", "500m")),
			"cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000"},
		{"ratio without request", container(corev1.LimitRangeItem{MaxLimitRequestRatio: resources("cpu", "2")}), one(nil, resources("cpu", "1")),
			"cpu max limit to request ratio per Container is 2, but no request is specified or request is 0"},
		{"ratio met", container(corev1.LimitRangeItem{MaxLimitRequestRatio: resources("cpu", "2")}), one(resources("cpu", "250m"), resources("cpu", "500m")), ""},
		{"two violations", container(corev1.LimitRangeItem{Min: resources("cpu", "100m", "memory", "1Gi")}), one(resources("cpu", "50m", "memory", "1Mi"), nil),
			"[minimum cpu usage per Container is 100m, but request is 50m, minimum memory usage per Container is 1Gi, but request is 1Mi]"},
		{"pod max over two containers", limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypePod, Max: resources("cpu", "1")}),
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "a", Resources: corev1.ResourceRequirements{Limits: resources("cpu", "600m")}},
				{Name: "b", Resources: corev1.ResourceRequirements{Limits: resources("cpu", "600m")}}}}},
			"maximum cpu usage per Pod is 1, but limit is 1200m"},
		{"defaults then checked", container(corev1.LimitRangeItem{Min: resources("cpu", "100m"), DefaultRequest: resources("cpu", "200m"), Default: resources("cpu", "200m")}),
			one(nil, nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := applyLimitRanges(tc.pod, []*corev1.LimitRange{tc.lr})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var d denial
			if !errors.As(err, &d) || err.Error() != tc.want {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			// The API's answer is upstream's 403.
			got := admissionError(schema.GroupResource{Resource: "pods"}, "x", err).Error()
			if want := `pods "x" is forbidden: ` + tc.want; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestAdmitLimitRanges(t *testing.T) {
	s, _ := newServiceTestServer(t, Config{})
	f := quotaFixture{t: t, ctx: context.Background(), s: s}
	pods, claims := f.res("pods"), f.res("persistentvolumeclaims")
	claim := func(storage string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "default"},
			Spec: corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: resources("storage", storage)}}}
	}
	// No LimitRange: nothing changes.
	bare := testPod()
	if err := s.admitLimitRanges(f.ctx, pods, bare); err != nil || len(bare.Spec.Containers[0].Resources.Requests) != 0 {
		t.Fatalf("without ranges: %v %v", err, bare.Spec.Containers[0].Resources)
	}

	lr := limitRange(corev1.LimitRangeItem{Type: corev1.LimitTypeContainer, Min: resources("cpu", "100m"), DefaultRequest: resources("cpu", "200m")},
		corev1.LimitRangeItem{Type: corev1.LimitTypePersistentVolumeClaim, Min: resources("storage", "1Gi"), Max: resources("storage", "10Gi")})
	if _, err := s.createObject(f.ctx, f.res("limitranges"), "default", lr, writeOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := testPod()
	if err := s.admitLimitRanges(f.ctx, pods, pod); err != nil {
		t.Fatal(err)
	}
	if got := pod.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU]; got.String() != "200m" {
		t.Errorf("defaulted request %s", got.String())
	}
	small := testPod(func(p *corev1.Pod) {
		p.Name, p.GenerateName = "", "web-"
		p.Spec.Containers[0].Resources.Requests = resources("cpu", "50m")
	})
	err := s.admitLimitRanges(f.ctx, pods, small)
	if want := `pods "web-" is forbidden: minimum cpu usage per Container is 100m, but request is 50m`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if err := s.admitLimitRanges(f.ctx, claims, claim("5Gi")); err != nil {
		t.Error(err)
	}
	err = s.admitLimitRanges(f.ctx, claims, claim("20Gi"))
	if want := `persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
