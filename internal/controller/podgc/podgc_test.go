package podgc

import (
	"context"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func pod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: "uid-" + "name", CreationTimestamp: metav1.NewTime(t0)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func phase(ph corev1.PodPhase, reason string) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase, p.Status.Reason = ph, reason }
}

func createdAt(d time.Duration) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t0.Add(d)) }
}

func on(node string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = node } }

func terminating(p *corev1.Pod) {
	now := metav1.NewTime(t0)
	p.DeletionTimestamp = &now
}

func node(name string, ready corev1.ConditionStatus, taints ...string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	for _, k := range taints {
		n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: k, Effect: corev1.TaintEffectNoExecute})
	}
	return n
}

func newController(t *testing.T, threshold int, objs ...runtime.Object) (*Controller, *fake.Clientset, *clocktesting.FakeClock) {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	clk := clocktesting.NewFakeClock(t0)
	c, err := New(Config{Client: client, Informers: factory, Clock: clk, TerminatedPodThreshold: threshold})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return c, client, clk
}

// deleted lists the pods deleted, checking each was forced (grace 0).
func deleted(t *testing.T, client *fake.Clientset) []string {
	t.Helper()
	var out []string
	for _, a := range client.Actions() {
		d, ok := a.(clienttesting.DeleteActionImpl)
		if !ok || d.Resource.Resource != "pods" {
			continue
		}
		if g := d.DeleteOptions.GracePeriodSeconds; g == nil || *g != 0 {
			t.Errorf("pod %s deleted with grace period %v, want 0", d.Name, g)
		}
		out = append(out, d.Name)
	}
	slices.Sort(out)
	return out
}

func TestGC(t *testing.T) {
	tests := []struct {
		name      string
		threshold int
		objs      []runtime.Object
		want      []string
	}{{
		name:      "terminated above the threshold, evicted then oldest first",
		threshold: 2,
		objs: []runtime.Object{
			pod("old", phase(corev1.PodSucceeded, ""), createdAt(1*time.Second)),
			pod("older", phase(corev1.PodFailed, ""), createdAt(0)),
			pod("evicted-new", phase(corev1.PodFailed, "Evicted"), createdAt(time.Hour)),
			pod("new", phase(corev1.PodSucceeded, ""), createdAt(2*time.Minute)),
			pod("newest", phase(corev1.PodFailed, ""), createdAt(3*time.Minute)),
			pod("running", createdAt(-time.Hour)),
		},
		want: []string{"evicted-new", "old", "older"},
	}, {
		name:      "under the threshold",
		threshold: 10,
		objs:      []runtime.Object{pod("done", phase(corev1.PodSucceeded, ""))},
	}, {
		name:      "negative threshold disables it",
		threshold: -1,
		objs:      []runtime.Object{pod("done", phase(corev1.PodSucceeded, ""))},
	}, {
		name: "unscheduled terminating",
		objs: []runtime.Object{pod("stuck", terminating), pod("pending")},
		want: []string{"stuck"},
	}, {
		name: "terminating on an out-of-service node",
		objs: []runtime.Object{
			node("down", corev1.ConditionFalse, corev1.TaintNodeOutOfService),
			node("down-no-taint", corev1.ConditionFalse),
			node("up", corev1.ConditionTrue, corev1.TaintNodeOutOfService),
			pod("a", on("down"), terminating), pod("b", on("down")),
			pod("c", on("down-no-taint"), terminating), pod("d", on("up"), terminating),
		},
		want: []string{"a"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, client, _ := newController(t, tt.threshold, tt.objs...)
			if err := c.gc(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := deleted(t, client); !slices.Equal(got, tt.want) {
				t.Errorf("deleted %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOrphaned(t *testing.T) {
	c, client, clk := newController(t, 0, node("here", corev1.ConditionTrue), pod("orphan", on("gone")), pod("fine", on("here")))
	ctx := context.Background()
	if err := c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Step(39 * time.Second)
	if err := c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deleted(t, client); len(got) != 0 {
		t.Fatalf("deleted %v during the quarantine", got)
	}
	clk.Step(time.Second)
	// Keep the pod after the delete, so that its status can be checked.
	client.PrependReactor("delete", "pods", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	if err := c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deleted(t, client); !slices.Equal(got, []string{"orphan"}) {
		t.Fatalf("deleted %v, want [orphan]", got)
	}
	p, err := client.CoreV1().Pods("default").Get(ctx, "orphan", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodFailed {
		t.Errorf("phase = %s, want Failed", p.Status.Phase)
	}
	i := slices.IndexFunc(p.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.DisruptionTarget })
	if i < 0 || p.Status.Conditions[i].Reason != "DeletionByPodGC" || p.Status.Conditions[i].Message != "PodGC: node no longer exists" {
		t.Errorf("conditions = %+v, want DisruptionTarget DeletionByPodGC", p.Status.Conditions)
	}
}

func TestOrphanNodeReappears(t *testing.T) {
	// The cache misses the node but the API has it: the pod stays.
	c, client, clk := newController(t, 0, pod("p", on("late")))
	ctx := context.Background()
	if err := c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	client.PrependReactor("get", "nodes", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, node("late", corev1.ConditionTrue), nil
	})
	clk.Step(time.Minute)
	if err := c.gc(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deleted(t, client); len(got) != 0 {
		t.Errorf("deleted %v although the node exists", got)
	}
}
