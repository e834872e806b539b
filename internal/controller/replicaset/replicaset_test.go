package replicaset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
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
	t       *testing.T
	ctx     context.Context
	client  *fake.Clientset
	c       *Controller
	clock   *clocktesting.FakeClock
	events  *record.FakeRecorder
	factory informers.SharedInformerFactory
}

// newHarness runs the informers over a fake client holding objs; the
// fake gives created pods a name from generateName and a UID, as the API
// does.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewClientset(objs...)
	var n atomic.Int64
	client.PrependReactor("create", "pods", func(a clienttesting.Action) (bool, runtime.Object, error) {
		p := a.(clienttesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n.Add(1))
		}
		p.UID = types.UID("uid-" + p.Name)
		p.CreationTimestamp = metav1.NewTime(t0)
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
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
	return &harness{t: t, ctx: ctx, client: client, c: c, clock: clk, events: events, factory: factory}
}

// waitFor polls cond until it holds or five seconds pass.
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

// cachedPods waits until the informer holds n pods with the given
// labels and returns them.
func (h *harness) cachedPods(sel map[string]string, n int) []*corev1.Pod {
	h.t.Helper()
	var pods []*corev1.Pod
	h.waitFor(fmt.Sprintf("%d pods", n), func() bool {
		pods, _ = h.c.podLister.Pods("ns").List(labels.SelectorFromSet(sel))
		return len(pods) == n
	})
	return pods
}

func (h *harness) rs(name string) *appsv1.ReplicaSet {
	h.t.Helper()
	rs, err := h.client.AppsV1().ReplicaSets("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rs
}

func (h *harness) sync(name string) error {
	h.t.Helper()
	// The informer must hold the latest ReplicaSet before a sync reads it.
	// The fake keeps no resourceVersion on objects: compare content.
	want := h.rs(name)
	h.waitFor("replicaset in cache", func() bool {
		rs, err := h.c.rsLister.ReplicaSets("ns").Get(name)
		return err == nil && apiequality.Semantic.DeepEqual(rs.Spec, want.Spec) &&
			apiequality.Semantic.DeepEqual(rs.Status, want.Status) && apiequality.Semantic.DeepEqual(rs.ObjectMeta, want.ObjectMeta)
	})
	return h.c.sync(h.ctx, "ns/"+name)
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

var webLabels = map[string]string{"app": "web"}

func newRS(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Generation: 1},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: webLabels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
			},
		},
	}
}

func newPod(name string, lbls map[string]string, owner *appsv1.ReplicaSet) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: lbls,
			CreationTimestamp: metav1.NewTime(t0)},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, controllerKind)}
	}
	return p
}

func running(p *corev1.Pod, node string, readySince time.Time) *corev1.Pod {
	p.Spec.NodeName = node
	p.Status.Phase = corev1.PodRunning
	if !readySince.IsZero() {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(readySince)}}
	}
	return p
}

func TestCreatesToMatchAndReportsStatus(t *testing.T) {
	rs := newRS("web", 3)
	h := newHarness(t, rs)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	pods := h.cachedPods(webLabels, 3)
	for _, p := range pods {
		if !strings.HasPrefix(p.Name, "web-") || p.GenerateName != "web-" {
			t.Errorf("pod %s generateName %q, want web-", p.Name, p.GenerateName)
		}
		ref := metav1.GetControllerOf(p)
		if ref == nil || ref.UID != rs.UID || ref.Kind != "ReplicaSet" || !*ref.BlockOwnerDeletion {
			t.Errorf("pod %s controller ref %+v", p.Name, ref)
		}
		if p.Labels["tier"] != "front" {
			t.Errorf("pod %s labels %v, want the template's", p.Name, p.Labels)
		}
	}
	events := h.drainEvents()
	if len(events) != 3 || !strings.HasPrefix(events[0], "Normal SuccessfulCreate Created pod: web-") {
		t.Errorf("events = %q", events)
	}
	// Two become ready; the next sync only reports.
	for _, p := range pods[:2] {
		p = running(p.DeepCopy(), "n1", t0)
		if _, err := h.client.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("ready pods in cache", func() bool {
		pods, _ := h.c.podLister.List(labels.Everything())
		n := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 2
	})
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	st := h.rs("web").Status
	want := appsv1.ReplicaSetStatus{Replicas: 3, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
		ObservedGeneration: 1, TerminatingReplicas: ptr.To[int32](0)}
	if !apiequality.Semantic.DeepEqual(st, want) {
		t.Errorf("status = %+v\nwant     %+v", st, want)
	}
	if ev := h.drainEvents(); len(ev) != 0 {
		t.Errorf("a sync at the right count made events %q", ev)
	}
}

func TestScaleDownDeletesInRankOrder(t *testing.T) {
	rs := newRS("web", 1)
	keep := running(newPod("keep", webLabels, rs), "n1", t0.Add(-time.Hour))
	unassigned := newPod("unassigned", webLabels, rs)
	pending := newPod("pending", webLabels, rs)
	pending.Spec.NodeName = "n2"
	h := newHarness(t, rs, keep, unassigned, pending)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	left, err := h.client.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 1 || left.Items[0].Name != "keep" {
		t.Errorf("left %d pods, want only keep", len(left.Items))
	}
	events := strings.Join(h.drainEvents(), "\n")
	for _, name := range []string{"unassigned", "pending"} {
		if !strings.Contains(events, "Normal SuccessfulDelete Deleted pod: "+name) {
			t.Errorf("no delete event for %s in %q", name, events)
		}
	}
	// Both deletions are expected, then seen.
	h.waitFor("deletions observed", func() bool { return h.c.expectations.Satisfied("ns/web") })
}

func TestAdoptsOrphansAndReleasesRelabeled(t *testing.T) {
	rs := newRS("web", 2)
	orphan := running(newPod("orphan", map[string]string{"app": "web", "tier": "front"}, nil), "n1", t0)
	mine := running(newPod("mine", map[string]string{"app": "web", "tier": "front"}, rs), "n1", t0)
	h := newHarness(t, rs, orphan, mine)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	got, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != rs.UID {
		t.Fatalf("orphan not adopted: owner refs %+v", got.OwnerReferences)
	}
	if list, _ := h.client.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{}); len(list.Items) != 2 {
		t.Fatalf("%d pods after adoption, want 2", len(list.Items))
	}

	// Relabel: the pod leaves the selector, is released, and replaced.
	got, _ = h.client.CoreV1().Pods("ns").Get(h.ctx, "mine", metav1.GetOptions{})
	got.Labels = map[string]string{"app": "debug"}
	if _, err := h.client.CoreV1().Pods("ns").Update(h.ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.cachedPods(map[string]string{"app": "debug"}, 1)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	released, _ := h.client.CoreV1().Pods("ns").Get(h.ctx, "mine", metav1.GetOptions{})
	if len(released.OwnerReferences) != 0 {
		t.Errorf("relabeled pod still owned: %+v", released.OwnerReferences)
	}
	h.cachedPods(webLabels, 2) // orphan + the replacement
}

func TestFailedCreateSetsReplicaFailure(t *testing.T) {
	rs := newRS("web", 4)
	h := newHarness(t, rs)
	var calls atomic.Int64
	h.client.PrependReactor("create", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		calls.Add(1)
		return true, nil, errors.New("quota exceeded")
	})
	if err := h.sync("web"); err == nil {
		t.Fatal("sync succeeded despite failing creates")
	}
	if calls.Load() != 1 {
		t.Errorf("%d create calls, want 1 (slow start stops at the first failed batch)", calls.Load())
	}
	cond := condition(h.rs("web").Status, appsv1.ReplicaSetReplicaFailure)
	if cond == nil || cond.Reason != "FailedCreate" || !strings.Contains(cond.Message, "quota exceeded") {
		t.Errorf("ReplicaFailure = %+v", cond)
	}
	if ev := h.drainEvents(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q", ev)
	}
	if !h.c.expectations.Satisfied("ns/web") {
		t.Error("creations that never happened are still expected")
	}
}

func TestAvailableAfterMinReadySeconds(t *testing.T) {
	rs := newRS("web", 1)
	rs.Spec.MinReadySeconds = 10
	p := running(newPod("p", map[string]string{"app": "web", "tier": "front"}, rs), "n1", t0)
	h := newHarness(t, rs, p)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	if st := h.rs("web").Status; st.ReadyReplicas != 1 || st.AvailableReplicas != 0 {
		t.Fatalf("status %+v, want ready 1 available 0", st)
	}
	h.clock.Step(11 * time.Second)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	if st := h.rs("web").Status; st.AvailableReplicas != 1 {
		t.Fatalf("status %+v, want available 1", st)
	}
}

func TestTerminatingAndFinishedPodsAreNotReplicas(t *testing.T) {
	rs := newRS("web", 1)
	going := newPod("going", webLabels, rs)
	going.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
	going.Finalizers = []string{"x"}
	done := newPod("done", webLabels, rs)
	done.Status.Phase = corev1.PodSucceeded
	h := newHarness(t, rs, going, done)
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	h.cachedPods(webLabels, 3) // one new pod replaces both
	h.waitFor("creation observed", func() bool { return h.c.expectations.Satisfied("ns/web") })
	if err := h.sync("web"); err != nil {
		t.Fatal(err)
	}
	st := h.rs("web").Status
	if st.Replicas != 1 || st.TerminatingReplicas == nil || *st.TerminatingReplicas != 1 {
		t.Errorf("status %+v, want replicas 1, terminating 1", st)
	}
}

func TestSlowStartBatch(t *testing.T) {
	tests := []struct {
		count, failAt int // failAt: the call that fails (0: none)
		wantDone      int
		wantCalls     int64
	}{
		{count: 10, wantDone: 10, wantCalls: 10},
		{count: 10, failAt: 1, wantDone: 0, wantCalls: 1},
		// batches 1, 2, 4: the fourth call is in the third batch, which
		// runs whole; the fourth batch never starts.
		{count: 10, failAt: 4, wantDone: 6, wantCalls: 7},
		{count: 0, wantDone: 0, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.count, tt.failAt), func(t *testing.T) {
			var calls atomic.Int64
			done, err := slowStartBatch(tt.count, 1, func() error {
				if n := calls.Add(1); tt.failAt > 0 && n == int64(tt.failAt) {
					return errors.New("boom")
				}
				return nil
			})
			if done != tt.wantDone || calls.Load() != tt.wantCalls || (err != nil) != (tt.failAt > 0) {
				t.Errorf("done=%d calls=%d err=%v, want %d %d", done, calls.Load(), err, tt.wantDone, tt.wantCalls)
			}
		})
	}
}
