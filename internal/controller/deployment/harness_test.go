package deployment

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
	clock  *clocktesting.FakeClock
	events *record.FakeRecorder
}

// newHarness runs informers over a fake client holding objs. Created
// ReplicaSets get a UID and a creation time from the fake clock (one
// second apart, so that their age orders them), as the API would.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewClientset(objs...)
	clk := clocktesting.NewFakeClock(t0)
	client.PrependReactor("create", "replicasets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		rs := a.(clienttesting.CreateAction).GetObject().(*appsv1.ReplicaSet)
		rs.UID = types.UID("uid-" + rs.Name)
		rs.Generation = 1
		rs.CreationTimestamp = metav1.NewTime(clk.Now())
		clk.Step(time.Second)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	events := record.NewFakeRecorder(1000)
	c, err := New(Config{Client: client, Informers: factory, Recorder: events, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		t.Fatal("caches did not sync")
	}
	return &harness{t: t, ctx: ctx, client: client, c: c, clock: clk, events: events}
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (h *harness) deployment() *appsv1.Deployment {
	h.t.Helper()
	d, err := h.client.AppsV1().Deployments("ns").Get(h.ctx, "web", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

// rss are the ReplicaSets in the API, oldest first.
func (h *harness) rss() []*appsv1.ReplicaSet {
	h.t.Helper()
	list, err := h.client.AppsV1().ReplicaSets("ns").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]*appsv1.ReplicaSet, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	sort.Sort(byCreation(out))
	return out
}

// synced waits until the informers hold what the API holds.
func (h *harness) synced() {
	h.t.Helper()
	d := h.deployment()
	rss := h.rss()
	h.waitFor("caches to catch up", func() bool {
		cd, err := h.c.dLister.Deployments("ns").Get("web")
		if err != nil || !sameObject(cd.ObjectMeta, d.ObjectMeta, cd.Spec, d.Spec, cd.Status, d.Status) {
			return false
		}
		cached, _ := h.c.rsLister.List(labels.Everything())
		if len(cached) != len(rss) {
			return false
		}
		for _, rs := range rss {
			c, err := h.c.rsLister.ReplicaSets("ns").Get(rs.Name)
			if err != nil || !sameObject(c.ObjectMeta, rs.ObjectMeta, c.Spec, rs.Spec, c.Status, rs.Status) {
				return false
			}
		}
		return true
	})
}

// sameObject compares what the cache and the API hold: the fake keeps
// no resourceVersion on objects, so content is all there is to compare.
func sameObject[M, S, T any](m1, m2 M, s1, s2 S, t1, t2 T) bool {
	return apiequality.Semantic.DeepEqual(m1, m2) && apiequality.Semantic.DeepEqual(s1, s2) && apiequality.Semantic.DeepEqual(t1, t2)
}

func (h *harness) sync() {
	h.t.Helper()
	h.synced()
	if err := h.c.sync(h.ctx, "ns/web"); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
}

// settle plays the ReplicaSet controller: every ReplicaSet has as many
// pods as it wants, of which available are available (-1: all).
func (h *harness) settle(available map[string]int32) {
	h.t.Helper()
	for _, rs := range h.rss() {
		n := *rs.Spec.Replicas
		a, ok := available[rs.Name]
		if !ok || a < 0 || a > n {
			a = n
		}
		rs.Status = appsv1.ReplicaSetStatus{Replicas: n, FullyLabeledReplicas: n, ReadyReplicas: a, AvailableReplicas: a,
			ObservedGeneration: rs.Generation, TerminatingReplicas: ptr.To[int32](0)}
		if _, err := h.client.AppsV1().ReplicaSets("ns").UpdateStatus(h.ctx, rs, metav1.UpdateOptions{}); err != nil {
			h.t.Fatal(err)
		}
	}
}

// update changes the Deployment's spec as a user would (the API bumps
// the generation).
func (h *harness) update(mut func(d *appsv1.Deployment)) {
	h.t.Helper()
	d := h.deployment()
	mut(d)
	d.Generation++
	if _, err := h.client.AppsV1().Deployments("ns").Update(h.ctx, d, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func (h *harness) progressing() *appsv1.DeploymentCondition {
	return getCondition(h.deployment().Status, appsv1.DeploymentProgressing)
}

// sizes renders the ReplicaSets' sizes, oldest first: "3,1".
func (h *harness) sizes() string {
	var s []string
	for _, rs := range h.rss() {
		s = append(s, fmt.Sprint(*rs.Spec.Replicas))
	}
	return strings.Join(s, ",")
}

func newDeployment(replicas int32, image string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "uid-web", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}},
			},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromString("25%")),
				},
			},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}
