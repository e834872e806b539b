package scheduler

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func started(p *corev1.Pod, at int64) *corev1.Pod {
	t := metav1.NewTime(time.Unix(at, 0))
	p.Status.StartTime = &t
	return p
}

func TestPickOneNodeForPreemption(t *testing.T) {
	v := func(name string, prio int32, start int64) *corev1.Pod {
		return started(withPriority(testPod(name, 0), prio), start)
	}
	tests := []struct {
		name  string
		cands []candidate
		want  string
	}{
		{"no victims wins", []candidate{{node: "a", victims: []*corev1.Pod{v("x", 1, 0)}}, {node: "b", victims: nil}}, "b"},
		{"lowest highest-priority victim", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", 10, 0)}},
			{node: "b", victims: []*corev1.Pod{v("y", 5, 0), v("z", 5, 0)}},
		}, "b"},
		{"smallest priority sum", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", 5, 0), v("y", 4, 0)}},
			{node: "b", victims: []*corev1.Pod{v("z", 5, 0), v("w", 1, 0)}},
		}, "b"},
		{"negative priorities add up", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", -5, 0), v("y", -5, 0)}},
			{node: "b", victims: []*corev1.Pod{v("z", -5, 0)}},
		}, "b"},
		{"fewest victims", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", 0, 0), v("y", 0, 0)}},
			{node: "b", victims: []*corev1.Pod{v("z", 0, 0)}},
		}, "b"},
		{"fewest budget violations first", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", 0, 0)}, pdbViolations: 1},
			{node: "b", victims: []*corev1.Pod{v("y", 9, 0), v("z", 9, 0)}},
		}, "b"},
		{"latest start of the most important victims", []candidate{
			{node: "a", victims: []*corev1.Pod{v("x", 3, 100)}},
			{node: "b", victims: []*corev1.Pod{v("y", 3, 200)}},
		}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pickOneNodeForPreemption(tt.cands); got.node != tt.want {
				t.Fatalf("picked %s, want %s", got.node, tt.want)
			}
		})
	}
}

func TestSplitByPDBViolation(t *testing.T) {
	web := func(name string) *corev1.Pod {
		p := testPod(name, 0)
		p.Labels = map[string]string{"app": "web"}
		return p
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status:     policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: 1, DisruptedPods: map[string]metav1.Time{"w-gone": {}}},
	}
	pods := []*corev1.Pod{web("w1"), web("w-gone"), testPod("other", 0), web("w2"), web("w3")}
	violating, ok := splitByPDBViolation(pods, []*policyv1.PodDisruptionBudget{pdb})
	names := func(ps []*corev1.Pod) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return strings.Join(out, ",")
	}
	if names(violating) != "w2,w3" || names(ok) != "w1,w-gone,other" {
		t.Fatalf("violating %s, allowed %s", names(violating), names(ok))
	}
}

func TestSelectVictimsOnNode(t *testing.T) {
	node := testNode("n1", 4000)
	// Three low-priority pods of 1 cpu and one of priority 100.
	existing := []*corev1.Pod{
		started(withPriority(testPod("low-a", 1000), 1), 10),
		started(withPriority(testPod("low-b", 1000), 2), 20),
		started(withPriority(testPod("low-c", 1000), 1), 30),
		started(withPriority(testPod("peer", 1000), 100), 40),
	}
	tests := []struct {
		name    string
		cpu     int64
		prio    int32
		victims []string
		reason  string
		protect string // a pod a budget with no disruptions left covers
	}{
		// Needs 2 cpu of the 3 the low pods hold: low-b (the most
		// important) is reprieved first and fits; low-a, then low-c,
		// would not, so both go.
		{"evicts the least important needed", 2000, 50, []string{"low-a", "low-c"}, "", ""},
		{"one cpu needs one victim", 1000, 50, []string{"low-c"}, "", ""},
		// low-c's budget allows no disruption: it is reprieved first, and
		// the two others go instead.
		{"spares a pod its budget protects", 2000, 50, []string{"low-b", "low-a"}, "", "low-c"},
		{"no lower priority pods", 1000, 1, nil, msgNoVictims, ""},
		{"does not fit even empty of lower pods", 4000, 50, nil, "Insufficient cpu", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := benchScheduler(t, 0, 0)
			s.cache.addNode(node)
			var pdbs []*policyv1.PodDisruptionBudget
			for _, p := range existing {
				p = On(p.DeepCopy(), "n1")
				if p.Name == tt.protect {
					p.Labels = map[string]string{"app": "protected"}
					pdbs = append(pdbs, &policyv1.PodDisruptionBudget{
						ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "protected"},
						Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: p.Labels}},
					})
				}
				s.cache.addPod(p)
			}
			s.cache.updateSnapshot(s.snapshot)
			pod := withPriority(testPod("preemptor", tt.cpu), tt.prio)
			c := s.newCycle(pod)
			if st := s.profile.runPreFilters(context.Background(), c, s.snapshot.list); !st.IsSuccess() {
				t.Fatal(st)
			}
			victims, violations, st := s.selectVictimsOnNode(context.Background(), c, pod, s.snapshot.list[0], pdbs)
			if tt.reason != "" {
				if st.IsSuccess() || st.Message() != tt.reason {
					t.Fatalf("status %+v, want %q", st, tt.reason)
				}
				return
			}
			if !st.IsSuccess() {
				t.Fatal(st)
			}
			var names []string
			for _, v := range victims {
				names = append(names, v.Name)
			}
			if strings.Join(names, ",") != strings.Join(tt.victims, ",") || violations != 0 {
				t.Fatalf("victims %v (%d violating), want %v", names, violations, tt.victims)
			}
		})
	}
}

// On places p on node.
func On(p *corev1.Pod, node string) *corev1.Pod {
	p.Spec.NodeName = node
	return p
}

// TestPreemptionEndToEnd fills one node with a low-priority pod; a
// high-priority pod then evicts it, is nominated, and lands once the
// victim is gone.
func TestPreemptionEndToEnd(t *testing.T) {
	victim := On(withPriority(testPod("victim", 3000), 0), "n1")
	h := start(t, testNode("n1", 4000), victim)
	ctx := context.Background()
	waitFor(t, "victim in the cache", func() bool {
		_, err := h.cs.CoreV1().Pods("default").Get(ctx, "victim", metav1.GetOptions{})
		return err == nil
	})
	preemptor := withPriority(testPod("vip", 2000), 1000)
	if _, err := h.cs.CoreV1().Pods("default").Create(ctx, preemptor, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev events
	waitFor(t, "Preempted event", func() bool {
		return ev.find(h.rec, "Normal Preempted Preempted by pod uid-vip on node n1") != ""
	})
	if _, err := h.cs.CoreV1().Pods("default").Get(ctx, "victim", metav1.GetOptions{}); err == nil {
		t.Fatal("victim still exists")
	}
	waitFor(t, "preemptor bound to n1", func() bool {
		p, err := h.cs.CoreV1().Pods("default").Get(ctx, "vip", metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == "n1"
	})
	// The failed first attempt told the user and nominated the node.
	if got := ev.find(h.rec, "Warning FailedScheduling"); got != "Warning FailedScheduling 0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("FailedScheduling %q", got)
	}
	var sawPatch bool
	for _, a := range h.cs.Actions() {
		if a.GetVerb() == "patch" && a.GetSubresource() == "status" {
			if pa, ok := a.(interface{ GetPatch() []byte }); ok && strings.Contains(string(pa.GetPatch()), "PreemptionByScheduler") {
				sawPatch = true
			}
		}
	}
	if !sawPatch {
		t.Fatal("victim was not given the DisruptionTarget condition")
	}
}

func TestPreemptionPolicyNever(t *testing.T) {
	h := start(t, testNode("n1", 4000), On(withPriority(testPod("victim", 3000), 0), "n1"))
	never := corev1.PreemptNever
	p := withPriority(testPod("polite", 2000), 1000)
	p.Spec.PreemptionPolicy = &never
	if _, err := h.cs.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev events
	want := "Warning FailedScheduling 0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never."
	waitFor(t, "FailedScheduling", func() bool { return ev.find(h.rec, "Warning FailedScheduling") != "" })
	if got := ev.find(h.rec, "Warning FailedScheduling"); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
