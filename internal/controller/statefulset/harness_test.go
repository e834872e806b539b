package statefulset

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/controller/controllertest"
)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	ev     *controllertest.Recorder
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := controllertest.NewClientset(objs...)
	// The real API defaults a new pod's phase to Pending.
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if p, ok := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod); ok && p.Status.Phase == "" {
			p.Status.Phase = corev1.PodPending
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactory(client, 0)
	ev := &controllertest.Recorder{}
	c, err := New(Config{Client: client, Informers: factory, Recorder: ev})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return &harness{t: t, ctx: ctx, client: client, c: c, ev: ev}
}

func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle waits until the caches hold exactly what the API holds.
func (h *harness) settle() {
	h.t.Helper()
	h.eventually("caches to catch up", func() bool {
		pods, _ := h.client.CoreV1().Pods("default").List(h.ctx, metav1.ListOptions{})
		cached, _ := h.c.podLister.List(labels.Everything())
		pvcs, _ := h.client.CoreV1().PersistentVolumeClaims("default").List(h.ctx, metav1.ListOptions{})
		cachedPVCs, _ := h.c.pvcLister.List(labels.Everything())
		revs, _ := h.client.AppsV1().ControllerRevisions("default").List(h.ctx, metav1.ListOptions{})
		cachedRevs, _ := h.c.revLister.List(labels.Everything())
		sets, _ := h.client.AppsV1().StatefulSets("default").List(h.ctx, metav1.ListOptions{})
		cachedSets, _ := h.c.setLister.List(labels.Everything())
		return sameVersions(pods.Items, cached) && sameVersions(pvcs.Items, cachedPVCs) &&
			sameVersions(revs.Items, cachedRevs) && sameVersions(sets.Items, cachedSets)
	})
}

func sameVersions[T any, PT interface {
	*T
	metav1.Object
}](api []T, cached []PT) bool {
	if len(api) != len(cached) {
		return false
	}
	want := map[string]string{}
	for i := range api {
		o := PT(&api[i])
		want[o.GetName()] = o.GetResourceVersion()
	}
	for _, o := range cached {
		if want[o.GetName()] != o.GetResourceVersion() {
			return false
		}
	}
	return true
}

func (h *harness) sync(name string) {
	h.t.Helper()
	h.settle()
	if err := h.c.sync(h.ctx, "default/"+name); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	h.settle()
}

// podNames lists the set's pods by name, in ordinal order.
func (h *harness) podNames() []string {
	h.t.Helper()
	pods, err := h.c.podLister.List(labels.Everything())
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
	}
	slices.SortFunc(names, compare)
	return names
}

func compare(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (h *harness) pod(name string) *corev1.Pod {
	h.t.Helper()
	p, err := h.c.podLister.Pods("default").Get(name)
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// ready plays kubelet: the named pods (all when none named) become
// Running and Ready.
func (h *harness) ready(names ...string) {
	h.t.Helper()
	if len(names) == 0 {
		names = h.podNames()
	}
	for _, n := range names {
		p := h.pod(n).DeepCopy()
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
		if _, err := h.client.CoreV1().Pods("default").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
	h.settle()
}

func (h *harness) get(name string) *appsv1.StatefulSet {
	h.t.Helper()
	s, err := h.client.AppsV1().StatefulSets("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h *harness) update(s *appsv1.StatefulSet) {
	h.t.Helper()
	s.Generation++
	if _, err := h.client.AppsV1().StatefulSets("default").Update(h.ctx, s, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

func statefulSet(name string, n int32, policy appsv1.PodManagementPolicyType) *appsv1.StatefulSet {
	lbls := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.StatefulSetSpec{
			Replicas:            ptr.To(n),
			ServiceName:         name,
			PodManagementPolicy: policy,
			Selector:            &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1"}}},
			},
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
}

func withClaims(s *appsv1.StatefulSet) *appsv1.StatefulSet {
	s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{
		ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}}
	return s
}
