package daemonset

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
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

// newHarness runs a controller's informers over a fake API holding objs;
// tests drive sync themselves unless they call run.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := controllertest.NewClientset(objs...)
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

func (h *harness) run() {
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(h.ctx)
	go func() {
		defer close(done)
		if err := h.c.Run(ctx); err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}()
	h.t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond until it holds or ten seconds pass.
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

// sync runs one sync of ds once the cache has caught up with the
// controller's last writes (its expectations are satisfied).
func (h *harness) sync(ds string) {
	h.t.Helper()
	key := "default/" + ds
	h.eventually("expectations of "+key, func() bool { return h.c.expectations.Satisfied(key) })
	if err := h.c.sync(h.ctx, key); err != nil {
		h.t.Fatalf("sync %s: %v", key, err)
	}
	h.eventually("expectations after sync of "+key, func() bool { return h.c.expectations.Satisfied(key) })
}

// pods returns the pods in the cache by the node they are for.
func (h *harness) pods() map[string][]*corev1.Pod {
	h.t.Helper()
	all, err := h.c.podLister.List(labels.Everything())
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string][]*corev1.Pod{}
	for _, p := range all {
		n, _ := targetNode(p)
		out[n] = append(out[n], p)
	}
	return out
}

func (h *harness) get(name string) *appsv1.DaemonSet {
	h.t.Helper()
	ds, err := h.client.AppsV1().DaemonSets("default").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

// update writes ds and waits until the cache has it.
func (h *harness) update(ds *appsv1.DaemonSet) {
	h.t.Helper()
	ds.Generation++
	ds, err := h.client.AppsV1().DaemonSets(ds.Namespace).Update(h.ctx, ds, metav1.UpdateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eventually("daemon set in cache", func() bool {
		got, err := h.c.dsLister.DaemonSets(ds.Namespace).Get(ds.Name)
		return err == nil && got.ResourceVersion == ds.ResourceVersion
	})
}

// runPods plays kubelet and scheduler: binds every pending pod to its
// node and makes it Running and Ready.
func (h *harness) runPods() {
	h.t.Helper()
	for node, pods := range h.pods() {
		for _, p := range pods {
			if podReady(p) {
				continue
			}
			p = p.DeepCopy()
			p.Spec.NodeName = node
			p.Status.Phase = corev1.PodRunning
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(time.Now().Add(-time.Hour))}}
			h.setPod(p)
		}
	}
}

func (h *harness) setPod(p *corev1.Pod) {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods(p.Namespace).Update(h.ctx, p, metav1.UpdateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eventually("pod in cache", func() bool {
		got, err := h.c.podLister.Pods(p.Namespace).Get(p.Name)
		return err == nil && got.ResourceVersion == p.ResourceVersion
	})
}

func node(name string, lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}, Spec: corev1.NodeSpec{Taints: taints}}
}

func daemonSet(name, image string) *appsv1.DaemonSet {
	lbls := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Generation: 1,
			Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
}
