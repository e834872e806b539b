package scheduler

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func pinnedTo(p *corev1.Pod, nodes ...string) *corev1.Pod {
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: nodes}},
		}}},
	}}
	return p
}

// TestScheduleVerdicts runs single cycles (with preemption) on a cache
// fed directly and checks the host or the full FailedScheduling text.
func TestScheduleVerdicts(t *testing.T) {
	taint := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	threeNodes := func() []*corev1.Node {
		return []*corev1.Node{testNode("n1", 4000), testNode("n2", 4000), testNode("n3", 4000, taint)}
	}
	tests := []struct {
		name     string
		nodes    []*corev1.Node
		existing []*corev1.Pod
		pod      *corev1.Pod
		host     string
		msg      string
	}{
		{
			name:  "no nodes",
			pod:   testPod("p", 100),
			msg:   "no nodes available to schedule pods",
			nodes: nil,
		},
		{
			name:     "pinned pod goes to its node",
			nodes:    threeNodes(),
			existing: []*corev1.Pod{On(testPod("e", 3000), "n1")},
			pod:      pinnedTo(testPod("ds", 500), "n2"),
			host:     "n2",
		},
		{
			name:     "pinned pod that does not fit its node",
			nodes:    threeNodes(),
			existing: []*corev1.Pod{On(testPod("e", 3000), "n1")},
			pod:      pinnedTo(testPod("ds", 2000), "n1"),
			msg: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "node selector matches nothing",
			nodes: threeNodes(),
			pod: func() *corev1.Pod {
				p := testPod("p", 100)
				p.Spec.NodeSelector = map[string]string{"disk": "ssd"}
				return p
			}(),
			// TaintToleration runs before NodeAffinity, as upstream.
			msg: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match Pod's node affinity/selector. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:     "taint and cpu",
			nodes:    threeNodes(),
			existing: []*corev1.Pod{On(testPod("e1", 3000), "n1"), On(testPod("e2", 3000), "n2")},
			pod:      testPod("p", 2000),
			msg: "0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 Insufficient cpu. " +
				"preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.",
		},
		{
			name:     "least allocated picks the emptier node",
			nodes:    threeNodes(),
			existing: []*corev1.Pod{On(testPod("e1", 3000), "n1")},
			pod:      testPod("p", 500),
			host:     "n2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := benchScheduler(t, 0, 0)
			for _, n := range tt.nodes {
				s.cache.addNode(n)
			}
			for _, p := range tt.existing {
				s.cache.addPod(p)
			}
			s.cache.updateSnapshot(s.snapshot)
			c := s.newCycle(tt.pod)
			res, err := s.schedulePod(context.Background(), c)
			if tt.host != "" {
				if err != nil || res.host != tt.host {
					t.Fatalf("host %q err %v, want %q", res.host, err, tt.host)
				}
				return
			}
			if err == nil {
				t.Fatalf("scheduled on %s, want failure", res.host)
			}
			if fe, ok := err.(*FitError); ok {
				_, msg, perr := s.preempt(context.Background(), c, &fe.Diagnosis)
				if perr != nil {
					t.Fatal(perr)
				}
				fe.Diagnosis.PostFilterMsg = msg
			}
			if err.Error() != tt.msg {
				t.Fatalf("\n got %q\nwant %q", err.Error(), tt.msg)
			}
		})
	}
}
