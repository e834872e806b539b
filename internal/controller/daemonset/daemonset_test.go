package daemonset

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var noSchedule = corev1.Taint{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoSchedule}

func TestShouldRun(t *testing.T) {
	tolerating := daemonSet("ds", "img")
	tolerating.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
	selecting := daemonSet("ds", "img")
	selecting.Spec.Template.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	affine := daemonSet("ds", "img")
	affine.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}},
		}}}}}
	unschedulable := node("n", nil)
	unschedulable.Spec.Unschedulable = true
	tests := []struct {
		name      string
		node      *corev1.Node
		ds        *appsv1.DaemonSet
		run, cont bool
	}{
		{"plain node", node("n", nil), daemonSet("ds", "img"), true, true},
		{"untolerated NoSchedule taint keeps new pods off but old ones stay", node("n", nil, noSchedule), daemonSet("ds", "img"), false, true},
		{"untolerated NoExecute taint evicts", node("n", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectNoExecute}), daemonSet("ds", "img"), false, false},
		{"PreferNoSchedule is ignored", node("n", nil, corev1.Taint{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}), daemonSet("ds", "img"), true, true},
		{"tolerated taint", node("n", nil, noSchedule), tolerating, true, true},
		{"default toleration of not-ready", node("n", nil, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), daemonSet("ds", "img"), true, true},
		{"default toleration of unschedulable", node("n", nil, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), daemonSet("ds", "img"), true, true},
		{"unschedulable node still runs daemons", unschedulable, daemonSet("ds", "img"), true, true},
		{"node selector matches", node("n", map[string]string{"disk": "ssd"}), selecting, true, true},
		{"node selector mismatch", node("n", map[string]string{"disk": "hdd"}), selecting, false, false},
		{"affinity matches", node("n", map[string]string{"zone": "a"}), affine, true, true},
		{"affinity mismatch", node("n", map[string]string{"zone": "b"}), affine, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, cont := shouldRun(tt.node, tt.ds)
			if run != tt.run || cont != tt.cont {
				t.Errorf("shouldRun = %v, %v; want %v, %v", run, cont, tt.run, tt.cont)
			}
		})
	}
}

func TestDefaultTolerations(t *testing.T) {
	spec := corev1.PodSpec{HostNetwork: true, Tolerations: []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](5)},
	}}
	addDefaultTolerations(&spec)
	var keys []string
	for _, tol := range spec.Tolerations {
		keys = append(keys, tol.Key+":"+string(tol.Effect))
		if tol.TolerationSeconds != nil {
			t.Errorf("toleration %s keeps tolerationSeconds: daemons must not be evicted", tol.Key)
		}
	}
	want := []string{"node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
		"node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
		"node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule",
		"node.kubernetes.io/network-unavailable:NoSchedule"}
	if !slices.Equal(keys, want) {
		t.Errorf("tolerations %v, want %v", keys, want)
	}
}

func TestCoversEligibleNodesAndFollowsThem(t *testing.T) {
	ds := daemonSet("agent", "agent:1")
	ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"}
	worker := map[string]string{"role": "worker"}
	h := newHarness(t, ds,
		node("a", worker),
		node("b", worker, noSchedule),                  // tainted, not tolerated
		node("c", map[string]string{"role": "master"}), // selector mismatch
	)
	h.sync("agent")
	pods := h.pods()
	if len(pods) != 1 || len(pods["a"]) != 1 {
		t.Fatalf("pods by node = %v, want one on a", pods)
	}
	p := pods["a"][0]
	if !strings.HasPrefix(p.Name, "agent-") || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == "" ||
		p.Labels[templateGenerationLabel] != "1" || !metav1.IsControlledBy(p, ds) || p.Spec.NodeName != "" {
		t.Errorf("pod %s labels %v", p.Name, p.Labels)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || terms[0].MatchFields[0].Key != "metadata.name" || terms[0].MatchFields[0].Values[0] != "a" {
		t.Errorf("affinity %+v", terms)
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Errorf("tolerations %v, want the six defaults", p.Spec.Tolerations)
	}
	if ev := h.ev.List(); len(ev) != 1 || ev[0] != "Normal SuccessfulCreate Created pod: "+p.Name {
		t.Errorf("events %q", ev)
	}
	h.sync("agent") // as the pod's add event would: status from a cache that has it
	st := h.get("agent").Status
	if st.DesiredNumberScheduled != 1 || st.CurrentNumberScheduled != 1 || st.NumberReady != 0 || st.NumberUnavailable != 1 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	h.runPods()
	h.sync("agent")
	if st := h.get("agent").Status; st.NumberReady != 1 || st.NumberAvailable != 1 || st.UpdatedNumberScheduled != 1 || st.NumberUnavailable != 0 {
		t.Errorf("status after ready %+v", st)
	}

	// A node joins; another stops matching.
	if _, err := h.client.CoreV1().Nodes().Create(h.ctx, node("d", worker), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	a := node("a", map[string]string{"role": "gone"})
	if _, err := h.client.CoreV1().Nodes().Update(h.ctx, a, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("nodes in cache", func() bool {
		n, err := h.c.nodeLister.Get("a")
		_, errD := h.c.nodeLister.Get("d")
		return err == nil && n.Labels["role"] == "gone" && errD == nil
	})
	h.sync("agent")
	pods = h.pods()
	if len(pods) != 1 || len(pods["d"]) != 1 {
		t.Fatalf("pods by node = %v, want one on d only", pods)
	}
}

func TestPodsOfDeletedNodeGo(t *testing.T) {
	h := newHarness(t, daemonSet("agent", "agent:1"), node("a", nil), node("b", nil))
	h.sync("agent")
	h.runPods()
	if err := h.client.CoreV1().Nodes().Delete(h.ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("node gone from cache", func() bool { _, err := h.c.nodeLister.Get("b"); return err != nil })
	h.sync("agent")
	h.eventually("pod of b deleted", func() bool { p := h.pods(); return len(p) == 1 && len(p["a"]) == 1 })
	if st := h.get("agent").Status; st.DesiredNumberScheduled != 1 || st.CurrentNumberScheduled != 1 {
		t.Errorf("status %+v", st)
	}
}

func TestFailedPodIsReplacedWithBackoff(t *testing.T) {
	h := newHarness(t, daemonSet("agent", "agent:1"), node("a", nil))
	h.sync("agent")
	fail := func() string {
		p := h.pods()["a"][0].DeepCopy()
		p.Spec.NodeName = "a"
		p.Status.Phase = corev1.PodFailed
		h.setPod(p)
		return p.Name
	}
	first := fail()
	h.sync("agent") // deletes the failed pod
	h.sync("agent") // creates its replacement
	pods := h.pods()["a"]
	if len(pods) != 1 || pods[0].Name == first {
		t.Fatalf("pods on a = %v, want a replacement of %s", pods, first)
	}
	if !slices.Contains(h.ev.List(), "Warning FailedDaemonPod Found failed daemon pod default/"+first+" on node a, will try to kill it") {
		t.Errorf("events %q", h.ev.List())
	}
	// The replacement fails at once: within the backoff it stays.
	second := fail()
	h.sync("agent")
	if pods := h.pods()["a"]; len(pods) != 1 || pods[0].Name != second {
		t.Errorf("pods on a = %v, want failed %s kept during backoff", pods, second)
	}
}

func TestRollingUpdate(t *testing.T) {
	h := newHarness(t, daemonSet("agent", "agent:1"), node("a", nil), node("b", nil), node("c", nil))
	h.sync("agent")
	h.runPods()
	h.sync("agent")
	oldHash := h.pods()["a"][0].Labels[appsv1.DefaultDaemonSetUniqueLabelKey]

	ds := h.get("agent")
	ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = "2"
	h.update(ds)
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("rollout did not finish")
		}
		h.sync("agent")
		var old, unready int
		for _, pods := range h.pods() {
			for _, p := range pods {
				if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == oldHash {
					old++
				}
				if !podReady(p) {
					unready++
				}
			}
		}
		// maxUnavailable 1: never more than one node without a ready pod.
		if missing := 3 - len(h.pods()) + unready; missing > 1 {
			t.Fatalf("round %d: %d nodes unavailable", round, missing)
		}
		h.runPods()
		if old == 0 && len(h.pods()) == 3 {
			break
		}
	}
	h.sync("agent")
	st := h.get("agent").Status
	if st.UpdatedNumberScheduled != 3 || st.NumberAvailable != 3 || st.ObservedGeneration != 2 {
		t.Errorf("status %+v", st)
	}
	revs, err := h.client.AppsV1().ControllerRevisions("default").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var nums []int64
	for _, r := range revs.Items {
		nums = append(nums, r.Revision)
		if !metav1.IsControlledBy(&r, ds) || !strings.Contains(string(r.Data.Raw), `"$patch":"replace"`) {
			t.Errorf("revision %s: %s", r.Name, r.Data.Raw)
		}
	}
	slices.Sort(nums)
	if !slices.Equal(nums, []int64{1, 2}) {
		t.Errorf("revisions %v, want 1 and 2", nums)
	}
}

func TestSurgeUpdate(t *testing.T) {
	ds := daemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(0)), MaxSurge: ptr.To(intstr.FromInt32(1))}
	h := newHarness(t, ds, node("a", nil), node("b", nil))
	h.sync("agent")
	h.runPods()
	ds = h.get("agent")
	ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = "2"
	h.update(ds)
	h.sync("agent")
	var two int
	for _, pods := range h.pods() {
		if len(pods) == 2 {
			two++
		}
	}
	if two != 1 {
		t.Fatalf("pods %v: want one node surged", h.pods())
	}
	for round := 0; ; round++ {
		if round > 10 {
			t.Fatal("rollout did not finish")
		}
		h.runPods()
		h.sync("agent")
		if st := h.get("agent").Status; st.UpdatedNumberScheduled == 2 && len(h.pods()["a"]) == 1 && len(h.pods()["b"]) == 1 {
			break
		}
	}
}

func TestOnDeleteLeavesPods(t *testing.T) {
	ds := daemonSet("agent", "agent:1")
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	h := newHarness(t, ds, node("a", nil))
	h.sync("agent")
	h.runPods()
	before := h.pods()["a"][0].Name
	ds = h.get("agent")
	ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = "2"
	h.update(ds)
	h.sync("agent")
	if pods := h.pods()["a"]; len(pods) != 1 || pods[0].Name != before {
		t.Errorf("OnDelete replaced the pod: %v", pods)
	}
	if st := h.get("agent").Status; st.UpdatedNumberScheduled != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestFollowsNewNodeWhileRunning(t *testing.T) {
	h := newHarness(t, daemonSet("agent", "agent:1"), node("a", nil))
	h.run()
	h.eventually("pod on a", func() bool { return len(h.pods()["a"]) == 1 })
	if _, err := h.client.CoreV1().Nodes().Create(h.ctx, node("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("pod on b", func() bool { return len(h.pods()["b"]) == 1 })
	h.eventually("status", func() bool {
		ds, err := h.c.dsLister.DaemonSets("default").Get("agent")
		return err == nil && ds.Status.DesiredNumberScheduled == 2 && ds.Status.CurrentNumberScheduled == 2
	})
}
