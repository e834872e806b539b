package tainttoleration

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

func TestFilter(t *testing.T) {
	gpu := corev1.Taint{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}
	noexec := corev1.Taint{Key: "node.kubernetes.io/not-ready", Effect: corev1.TaintEffectNoExecute}
	soft := corev1.Taint{Key: "soft", Value: "x", Effect: corev1.TaintEffectPreferNoSchedule}
	tests := []struct {
		name   string
		taints []corev1.Taint
		tols   []corev1.Toleration
		want   string // "" = fits
	}{
		{"no taints", nil, nil, ""},
		{"untolerated NoSchedule", []corev1.Taint{gpu}, nil, "node(s) had untolerated taint {dedicated: gpu}"},
		{"tolerated by equal", []corev1.Taint{gpu}, []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}, ""},
		{"wrong value", []corev1.Taint{gpu}, []corev1.Toleration{{Key: "dedicated", Value: "cpu"}}, "node(s) had untolerated taint {dedicated: gpu}"},
		{"exists tolerates all", []corev1.Taint{gpu, noexec}, []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, ""},
		{"untolerated NoExecute", []corev1.Taint{noexec}, nil, "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"},
		{"PreferNoSchedule never filters", []corev1.Taint{soft}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := testutil.Node("n", nil)
			node.Spec.Taints = tt.taints
			pod := testutil.Pod("p", nil)
			pod.Spec.Tolerations = tt.tols
			st := TaintToleration{}.Filter(context.Background(), framework.NewCycleState(), pod, framework.NewNodeInfo(node))
			if tt.want == "" {
				if !st.IsSuccess() {
					t.Fatalf("got %v, want fit", st.Reasons)
				}
				return
			}
			if st.IsSuccess() || st.Code != framework.UnschedulableAndUnresolvable || st.Message() != tt.want {
				t.Fatalf("got %+v, want %q", st, tt.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	soft := func(k string) corev1.Taint {
		return corev1.Taint{Key: k, Value: "v", Effect: corev1.TaintEffectPreferNoSchedule}
	}
	nodes := []*corev1.Node{testutil.Node("clean", nil), testutil.Node("one", nil), testutil.Node("two", nil)}
	nodes[1].Spec.Taints = []corev1.Taint{soft("a")}
	nodes[2].Spec.Taints = []corev1.Taint{soft("a"), soft("b")}
	pod := testutil.Pod("p", nil)
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "b", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectPreferNoSchedule}}
	pl := TaintToleration{}
	state := framework.NewCycleState()
	pl.PreScore(context.Background(), state, pod, nil)
	var scores []framework.NodeScore
	for _, ni := range testutil.Infos(nodes) {
		s, _ := pl.Score(context.Background(), state, pod, ni)
		scores = append(scores, framework.NodeScore{Name: ni.Node.Name, Score: s})
	}
	pl.NormalizeScore(context.Background(), state, pod, scores)
	// "two" has b tolerated, so both tainted nodes have one untolerated taint.
	want := []int64{100, 0, 0}
	for i, s := range scores {
		if s.Score != want[i] {
			t.Errorf("%s: score %d, want %d", s.Name, s.Score, want[i])
		}
	}
}
