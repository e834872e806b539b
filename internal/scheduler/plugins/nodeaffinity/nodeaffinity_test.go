package nodeaffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

func required(terms ...corev1.NodeSelectorTerm) *corev1.Affinity {
	return &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms},
	}}
}

func TestFilter(t *testing.T) {
	node := testutil.Node("n1", map[string]string{"zone": "a", "disk": "ssd"})
	tests := []struct {
		name     string
		selector map[string]string
		affinity *corev1.Affinity
		fits     bool
	}{
		{"nothing asked", nil, nil, true},
		{"selector matches", map[string]string{"zone": "a"}, nil, true},
		{"selector does not", map[string]string{"zone": "b"}, nil, false},
		{"expression In", nil, required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a", "b"}}}}), true},
		{"expression NotIn", nil, required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "disk", Operator: corev1.NodeSelectorOpNotIn, Values: []string{"ssd"}}}}), false},
		{"terms are ORed", nil, required(
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"z"}}}},
			corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpExists}}}), true},
		{"matchFields metadata.name", nil, required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}), true},
		{"matchFields other node", nil, required(corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{
			{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n2"}}}}), false},
		{"selector and affinity both apply", map[string]string{"zone": "b"}, required(corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
			{Key: "zone", Operator: corev1.NodeSelectorOpExists}}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testutil.Pod("p", nil)
			pod.Spec.NodeSelector = tt.selector
			pod.Spec.Affinity = tt.affinity
			pl := NodeAffinity{}
			state := framework.NewCycleState()
			if st := pl.PreFilter(context.Background(), state, pod, nil); st.IsSkip() {
				if !tt.fits {
					t.Fatal("PreFilter skipped a pod with constraints")
				}
				return
			}
			st := pl.Filter(context.Background(), state, pod, framework.NewNodeInfo(node))
			if st.IsSuccess() != tt.fits {
				t.Fatalf("fits = %v, want %v", st.IsSuccess(), tt.fits)
			}
			if !tt.fits && (st.Code != framework.UnschedulableAndUnresolvable || st.Message() != ErrReasonPod) {
				t.Fatalf("got %+v", st)
			}
		})
	}
}

func TestScore(t *testing.T) {
	nodes := []*corev1.Node{
		testutil.Node("a", map[string]string{"zone": "a", "disk": "ssd"}),
		testutil.Node("b", map[string]string{"zone": "b", "disk": "ssd"}),
		testutil.Node("c", map[string]string{"zone": "c"}),
	}
	pod := testutil.Pod("p", nil)
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
		{Weight: 10, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}},
		{Weight: 5, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}},
	}}}
	pl := NodeAffinity{}
	state := framework.NewCycleState()
	if st := pl.PreScore(context.Background(), state, pod, nil); !st.IsSuccess() {
		t.Fatal(st)
	}
	var scores []framework.NodeScore
	for _, ni := range testutil.Infos(nodes) {
		s, _ := pl.Score(context.Background(), state, pod, ni)
		scores = append(scores, framework.NodeScore{Name: ni.Node.Name, Score: s})
	}
	pl.NormalizeScore(context.Background(), state, pod, scores)
	want := []int64{100, 33, 0} // 15, 5, 0 of 15
	for i, s := range scores {
		if s.Score != want[i] {
			t.Errorf("%s: %d, want %d", s.Name, s.Score, want[i])
		}
	}
}
