package nodelifecycle

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func readyNode(name string, status corev1.ConditionStatus) *corev1.Node {
	hb := metav1.NewTime(t0)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: hb},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeReady, Status: status, Reason: "KubeletReady", LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, LastHeartbeatTime: hb, LastTransitionTime: hb},
		}},
	}
}

func lease(node string, renew time.Time) *coordv1.Lease {
	rt := metav1.NewMicroTime(renew)
	return &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: corev1.NamespaceNodeLease, Name: node},
		Spec:       coordv1.LeaseSpec{HolderIdentity: &node, RenewTime: &rt},
	}
}

func readyPod(name, node string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec:       corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		}},
	}
}

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	rec    *record.FakeRecorder
	c      *Controller
}

// newHarness builds a controller over synced informers; the test drives
// monitorNodeHealth itself.
func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	h := &harness{t: t, client: client, clock: clocktesting.NewFakeClock(t0), rec: record.NewFakeRecorder(100)}
	c, err := New(Config{Client: client, Informers: factory, Recorder: h.rec, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	h.ctx = ctx
	factory.Start(ctx.Done())
	for _, s := range c.synced {
		h.waitFor("caches", func() bool { return s() })
	}
	return h
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (h *harness) node(name string) *corev1.Node {
	h.t.Helper()
	n, err := h.client.CoreV1().Nodes().Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// settle waits until the informer has the node as the API has it.
func (h *harness) settle(names ...string) {
	h.t.Helper()
	for _, name := range names {
		// The fake keeps no resourceVersions: compare contents.
		want := h.node(name)
		h.waitFor("lister to catch up with node "+name, func() bool {
			n, err := h.c.nodes.Get(name)
			return err == nil && apiequality.Semantic.DeepEqual(n.Spec, want.Spec) &&
				apiequality.Semantic.DeepEqual(n.Status, want.Status)
		})
	}
}

// monitor runs one health pass and the NoSchedule pass for names.
func (h *harness) monitor(names ...string) {
	h.t.Helper()
	h.settle(names...)
	if err := h.c.monitorNodeHealth(h.ctx); err != nil {
		h.t.Fatal(err)
	}
	h.settle(names...)
	for _, n := range names {
		if err := h.c.syncNoScheduleTaints(h.ctx, n); err != nil {
			h.t.Fatal(err)
		}
	}
}

// renew renews a node's lease at the fake clock's time.
func (h *harness) renew(name string) {
	h.t.Helper()
	l := lease(name, h.clock.Now())
	cur, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	cur.Spec.RenewTime = l.Spec.RenewTime
	if _, err := h.client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Update(h.ctx, cur, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("lease lister", func() bool {
		got, err := h.c.leases.Leases(corev1.NamespaceNodeLease).Get(name)
		return err == nil && got.Spec.RenewTime.Equal(l.Spec.RenewTime)
	})
}

func taintKeys(n *corev1.Node) []string {
	var out []string
	for _, t := range n.Spec.Taints {
		out = append(out, t.Key+":"+string(t.Effect))
	}
	slices.Sort(out)
	return out
}

func TestHeartbeatStops(t *testing.T) {
	h := newHarness(t,
		readyNode("lost", corev1.ConditionTrue), lease("lost", t0),
		readyNode("alive", corev1.ConditionTrue), lease("alive", t0),
		readyPod("p", "lost"), readyPod("q", "alive"))
	h.monitor("lost", "alive")
	for _, step := range []time.Duration{20 * time.Second, 20 * time.Second} {
		h.clock.Step(step)
		h.renew("alive")
		h.monitor("lost", "alive")
		if n := h.node("lost"); condition(n, corev1.NodeReady).Status != corev1.ConditionTrue || len(n.Spec.Taints) != 0 {
			t.Fatalf("at %v node lost is %v with taints %v; want Ready until 40s pass", h.clock.Since(t0), condition(n, corev1.NodeReady).Status, n.Spec.Taints)
		}
	}
	h.clock.Step(time.Second) // 41 s without a heartbeat
	h.renew("alive")
	h.monitor("lost", "alive")

	n := h.node("lost")
	for _, ct := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		c := condition(n, ct)
		if c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status." {
			t.Errorf("condition %s = %s/%s/%q, want Unknown/NodeStatusUnknown/Kubelet stopped posting node status.", ct, c.Status, c.Reason, c.Message)
		}
		if !c.LastTransitionTime.Time.Equal(h.clock.Now()) || !c.LastHeartbeatTime.Time.Equal(t0) {
			t.Errorf("condition %s times: transition %v heartbeat %v", ct, c.LastTransitionTime, c.LastHeartbeatTime)
		}
	}
	want := []string{"node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule"}
	if got := taintKeys(n); !slices.Equal(got, want) {
		t.Errorf("taints = %v, want %v", got, want)
	}
	for _, taint := range n.Spec.Taints {
		if taint.TimeAdded == nil || !taint.TimeAdded.Time.Equal(h.clock.Now()) {
			t.Errorf("taint %s timeAdded = %v, want %v", taint.Key, taint.TimeAdded, h.clock.Now())
		}
	}
	if got := taintKeys(h.node("alive")); len(got) != 0 {
		t.Errorf("healthy node got taints %v", got)
	}
	p, _ := h.client.CoreV1().Pods("default").Get(h.ctx, "p", metav1.GetOptions{})
	if p.Status.Conditions[0].Status != corev1.ConditionFalse {
		t.Errorf("pod on the lost node is still Ready")
	}
	q, _ := h.client.CoreV1().Pods("default").Get(h.ctx, "q", metav1.GetOptions{})
	if q.Status.Conditions[0].Status != corev1.ConditionTrue {
		t.Errorf("pod on the healthy node was marked not Ready")
	}
	var events []string
	for len(h.rec.Events) > 0 {
		events = append(events, <-h.rec.Events)
	}
	for _, want := range []string{"Normal NodeNotReady Node lost status is now: NodeNotReady", "Warning NodeNotReady Node is not ready"} {
		if !slices.Contains(events, want) {
			t.Errorf("events %q lack %q", events, want)
		}
	}

	// The kubelet comes back.
	n = h.node("lost")
	now := metav1.NewTime(h.clock.Now())
	cond := condition(n, corev1.NodeReady)
	cond.Status, cond.Reason, cond.Message, cond.LastHeartbeatTime = corev1.ConditionTrue, "KubeletReady", "", now
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(h.ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.renew("lost")
	h.monitor("lost", "alive")
	if got := taintKeys(h.node("lost")); len(got) != 0 {
		t.Errorf("taints after recovery = %v, want none", got)
	}
}

func TestNotReadyTaints(t *testing.T) {
	h := newHarness(t,
		readyNode("sick", corev1.ConditionFalse), lease("sick", t0),
		readyNode("alive", corev1.ConditionTrue), lease("alive", t0))
	h.monitor("sick", "alive")
	want := []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule"}
	if got := taintKeys(h.node("sick")); !slices.Equal(got, want) {
		t.Errorf("taints = %v, want %v", got, want)
	}
}

func TestLeaseKeepsNodeAlive(t *testing.T) {
	// The Ready heartbeat is old, the lease is renewed: healthy.
	h := newHarness(t, readyNode("n", corev1.ConditionTrue), lease("n", t0))
	h.monitor("n")
	for range 5 {
		h.clock.Step(30 * time.Second)
		h.renew("n")
		h.monitor("n")
	}
	if c := condition(h.node("n"), corev1.NodeReady); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready = %s, want True while the lease is renewed", c.Status)
	}
}

func TestMasterDisruption(t *testing.T) {
	// The only node is lost: its conditions go Unknown, but nothing is
	// evicted, as the control plane may be the one cut off.
	h := newHarness(t, readyNode("only", corev1.ConditionTrue), lease("only", t0))
	h.monitor("only")
	h.clock.Step(41 * time.Second)
	h.monitor("only")
	n := h.node("only")
	if c := condition(n, corev1.NodeReady); c.Status != corev1.ConditionUnknown {
		t.Fatalf("Ready = %s, want Unknown", c.Status)
	}
	if got := strings.Join(taintKeys(n), ","); got != "node.kubernetes.io/unreachable:NoSchedule" {
		t.Errorf("taints = %s, want only the NoSchedule one", got)
	}
}

func TestUnschedulableAndPressureTaints(t *testing.T) {
	n := readyNode("n", corev1.ConditionTrue)
	n.Spec.Unschedulable = true
	condition(n, corev1.NodeDiskPressure).Status = corev1.ConditionTrue
	h := newHarness(t, n, lease("n", t0))
	h.monitor("n")
	want := []string{"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule"}
	if got := taintKeys(h.node("n")); !slices.Equal(got, want) {
		t.Errorf("taints = %v, want %v", got, want)
	}
}

func TestNeverPostedStatus(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new", CreationTimestamp: metav1.NewTime(t0)}}
	h := newHarness(t, n, readyNode("alive", corev1.ConditionTrue), lease("alive", t0))
	h.clock.Step(61 * time.Second)
	h.renew("alive")
	h.monitor("new", "alive")
	c := condition(h.node("new"), corev1.NodeReady)
	if c == nil || c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusNeverUpdated" || c.Message != "Kubelet never posted node status." {
		t.Errorf("Ready = %+v, want Unknown/NodeStatusNeverUpdated", c)
	}
}
