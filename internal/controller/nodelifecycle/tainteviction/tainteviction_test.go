package tainteviction

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func taintedNode(name string, keys ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	added := metav1.NewTime(t0)
	for _, k := range keys {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added})
	}
	return n
}

func podOn(name, node string, tolerations ...corev1.Toleration) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: "uid-" + "name"},
		Spec:       corev1.PodSpec{NodeName: node, Tolerations: tolerations},
	}
}

// defaultTolerations are what admission adds to every pod.
func defaultTolerations(seconds int64) []corev1.Toleration {
	return []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &seconds},
	}
}

func newController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset, *clocktesting.FakeClock, *record.FakeRecorder) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c, client, clk, rec
}

func exists(client *fake.Clientset, name string) bool {
	_, err := client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	return err == nil
}

func TestEvictionTiming(t *testing.T) {
	forever := corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		node      *corev1.Node
		at        time.Duration // after the taint was added
		wantEvict bool
	}{
		{"no toleration: at once", podOn("p", "n"), taintedNode("n", corev1.TaintNodeUnreachable), 0, true},
		{"tolerates 300s: kept at 299s", podOn("p", "n", defaultTolerations(300)...), taintedNode("n", corev1.TaintNodeUnreachable), 299 * time.Second, false},
		{"tolerates 300s: evicted at 300s", podOn("p", "n", defaultTolerations(300)...), taintedNode("n", corev1.TaintNodeUnreachable), 300 * time.Second, true},
		{"tolerates forever", podOn("p", "n", forever), taintedNode("n", corev1.TaintNodeUnreachable), time.Hour, false},
		{"one taint not tolerated", podOn("p", "n", forever), taintedNode("n", corev1.TaintNodeUnreachable, "example.com/other"), 0, true},
		{"untainted node", podOn("p", "n"), taintedNode("n"), 0, false},
		{"NoSchedule taints do not evict", podOn("p", "n"), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"},
			Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoSchedule}}}}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client, clk, rec := newController(t, tt.pod, tt.node)
			clk.SetTime(t0.Add(tt.at))
			if err := c.sync(context.Background(), "default/p"); err != nil {
				t.Fatal(err)
			}
			if got := !exists(client, "p"); got != tt.wantEvict {
				t.Fatalf("evicted = %v, want %v", got, tt.wantEvict)
			}
			if !tt.wantEvict {
				return
			}
			if ev := <-rec.Events; ev != "Normal TaintManagerEviction Marking for deletion Pod default/p" {
				t.Errorf("event = %q", ev)
			}
			var patched bool
			for _, a := range client.Actions() {
				if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
					patched = true
				}
			}
			if !patched {
				t.Error("pod was deleted without the DisruptionTarget condition")
			}
		})
	}
}

func TestTaintWithoutTimeAdded(t *testing.T) {
	// kubectl taint sets no timeAdded: the toleration counts from when
	// the eviction was first scheduled.
	n := taintedNode("n", corev1.TaintNodeUnreachable)
	n.Spec.Taints[0].TimeAdded = nil
	c, client, clk, _ := newController(t, podOn("p", "n", defaultTolerations(60)...), n)
	ctx := context.Background()
	for _, step := range []time.Duration{0, 30 * time.Second, 29 * time.Second} {
		clk.Step(step)
		if err := c.sync(ctx, "default/p"); err != nil {
			t.Fatal(err)
		}
		if !exists(client, "p") {
			t.Fatalf("evicted %v after scheduling, before its 60 s toleration", clk.Since(t0))
		}
	}
	clk.Step(time.Second)
	if err := c.sync(ctx, "default/p"); err != nil {
		t.Fatal(err)
	}
	if exists(client, "p") {
		t.Error("not evicted 60 s after scheduling")
	}
}

func TestDisruptionTargetCondition(t *testing.T) {
	c, client, _, _ := newController(t, podOn("p", "n"), taintedNode("n", corev1.TaintNodeNotReady))
	// Deletes are swallowed, so that the pod's status can be read after.
	var deleted bool
	client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) {
		deleted = true
		return true, nil, nil
	})
	if err := c.sync(context.Background(), "default/p"); err != nil {
		t.Fatal(err)
	}
	if !deleted {
		t.Fatal("pod not deleted")
	}
	got, err := client.CoreV1().Pods("default").Get(context.Background(), "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, cond := range got.Status.Conditions {
		if cond.Type == corev1.DisruptionTarget {
			found = cond.Status == corev1.ConditionTrue && cond.Reason == "DeletionByTaintManager" &&
				cond.Message == "Taint manager: deleting due to NoExecute taint"
		}
	}
	if !found {
		t.Errorf("conditions = %+v, want DisruptionTarget=True DeletionByTaintManager", got.Status.Conditions)
	}
}

func TestRunEvictsAndCancels(t *testing.T) {
	client := fake.NewClientset(
		podOn("intolerant", "n"), podOn("patient", "n", defaultTolerations(300)...), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}})
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	rec := record.NewFakeRecorder(100)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	factory.Start(ctx.Done())
	defer func() { cancel(); <-done; factory.Shutdown() }()

	// Taint the node: intolerant goes at once, patient is scheduled.
	if _, err := client.CoreV1().Nodes().Update(ctx, taintedNode("n", corev1.TaintNodeUnreachable), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "intolerant pod deleted", func() bool { return !exists(client, "intolerant") })
	waitFor(t, "patient pod scheduled for eviction", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.scheduled["default/patient"]
		return ok
	})
	// The taint goes before 300 s: the eviction is cancelled.
	if _, err := client.CoreV1().Nodes().Update(ctx, taintedNode("n"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "cancellation", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.scheduled["default/patient"]
		return !ok
	})
	clk.Step(301 * time.Second)
	if err := c.sync(ctx, "default/patient"); err != nil {
		t.Fatal(err)
	}
	if !exists(client, "patient") {
		t.Error("pod deleted although the taint went away")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
