package scheduler

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// testNode returns a ready node with cpu millicores and 110 pods.
func testNode(name string, milliCPU int64, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(milliCPU, resource.DecimalSI),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}},
	}
}

// testPod returns a pending pod requesting cpu millicores.
func testPod(name string, milliCPU int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.Now()},
		Spec: corev1.PodSpec{
			SchedulerName: corev1.DefaultSchedulerName,
			Containers: []corev1.Container{{Name: "c", Image: "i", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(milliCPU, resource.DecimalSI)},
			}}},
		},
	}
}

// bindReactor makes the fake clientset implement pods/binding by setting
// spec.nodeName, as the API server does.
func bindReactor(cs *fake.Clientset) {
	gvr := corev1.SchemeGroupVersion.WithResource("pods")
	cs.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		ca := action.(k8stesting.CreateAction)
		if ca.GetSubresource() != "binding" {
			return false, nil, nil
		}
		b := ca.GetObject().(*corev1.Binding)
		obj, err := cs.Tracker().Get(gvr, b.Namespace, b.Name)
		if err != nil {
			return true, nil, err
		}
		p := obj.(*corev1.Pod).DeepCopy()
		p.Spec.NodeName = b.Target.Name
		return true, b, cs.Tracker().Update(gvr, p, b.Namespace)
	})
}

type harness struct {
	cs     *fake.Clientset
	rec    *record.FakeRecorder
	cancel context.CancelFunc
	done   chan struct{}
}

// start runs a scheduler over a fake clientset holding objs.
func start(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	cs := fake.NewClientset(objs...)
	bindReactor(cs)
	inf := informers.NewSharedInformerFactory(cs, 0)
	rec := record.NewFakeRecorder(1000)
	s, err := New(Config{Client: cs, Informers: inf, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	inf.Start(ctx.Done())
	h := &harness{cs: cs, rec: rec, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		if err := s.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-h.done
		inf.Shutdown()
	})
	return h
}

// waitFor polls cond until it holds or the deadline passes.
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

// events collects what the recorder saw.
type events struct {
	mu  sync.Mutex
	all []string
}

func (e *events) drain(rec *record.FakeRecorder) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for {
		select {
		case ev := <-rec.Events:
			e.all = append(e.all, ev)
		default:
			return append([]string(nil), e.all...)
		}
	}
}

func (e *events) find(rec *record.FakeRecorder, prefix string) string {
	for _, ev := range e.drain(rec) {
		if strings.HasPrefix(ev, prefix) {
			return ev
		}
	}
	return ""
}

func TestSchedulerBindsAndReportsUnschedulable(t *testing.T) {
	taint := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	h := start(t,
		testNode("n1", 4000), testNode("n2", 4000), testNode("n3", 4000, taint),
		testPod("small", 1000), testPod("big", 3500),
	)
	ctx := context.Background()
	// Both fit n1/n2; big takes most of one of them.
	waitFor(t, "both pods bound", func() bool {
		for _, n := range []string{"small", "big"} {
			p, err := h.cs.CoreV1().Pods("default").Get(ctx, n, metav1.GetOptions{})
			if err != nil || p.Spec.NodeName == "" {
				return false
			}
			if p.Spec.NodeName == "n3" {
				t.Fatalf("pod %s bound to tainted node", n)
			}
		}
		return true
	})
	var ev events
	waitFor(t, "Scheduled event", func() bool {
		return ev.find(h.rec, "Normal Scheduled Successfully assigned default/small to n") != ""
	})

	// A pod that fits nowhere: n3 is tainted, n1/n2 lack cpu, and its
	// priority equals everyone's, so there is nothing to preempt.
	if _, err := h.cs.CoreV1().Pods("default").Create(ctx, testPod("huge", 3500), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "Warning FailedScheduling 0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. " +
		"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
	waitFor(t, "FailedScheduling event", func() bool { return ev.find(h.rec, "Warning FailedScheduling") != "" })
	if got := ev.find(h.rec, "Warning FailedScheduling"); got != want {
		t.Fatalf("event:\n got %q\nwant %q", got, want)
	}
	waitFor(t, "PodScheduled=False", func() bool {
		p, err := h.cs.CoreV1().Pods("default").Get(ctx, "huge", metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
				c.Message == strings.TrimPrefix(want, "Warning FailedScheduling ") {
				return true
			}
		}
		return false
	})
}

func TestGatedPodWaitsForItsGates(t *testing.T) {
	gated := testPod("gated", 100)
	gated.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
	h := start(t, testNode("n1", 4000), gated, testPod("free", 100))
	ctx := context.Background()
	waitFor(t, "ungated pod bound", func() bool {
		p, err := h.cs.CoreV1().Pods("default").Get(ctx, "free", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName != ""
	})
	if p, _ := h.cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{}); p.Spec.NodeName != "" {
		t.Fatal("gated pod was bound")
	}
	p, _ := h.cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
	p.Spec.SchedulingGates = nil
	if _, err := h.cs.CoreV1().Pods("default").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod bound once ungated", func() bool {
		p, err := h.cs.CoreV1().Pods("default").Get(ctx, "gated", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n1"
	})
}
