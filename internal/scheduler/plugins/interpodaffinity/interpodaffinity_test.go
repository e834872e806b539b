package interpodaffinity

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

func affTerm(key string, labels map[string]string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: key, LabelSelector: testutil.Selector(labels)}
}

func withAffinity(p *corev1.Pod, a, anti []corev1.PodAffinityTerm) *corev1.Pod {
	p.Spec.Affinity = &corev1.Affinity{}
	if a != nil {
		p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: a}
	}
	if anti != nil {
		p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: anti}
	}
	return p
}

// Zones: a holds n1 and n2, b holds n3; n4 has no zone label.
func zonedNodes() []*corev1.Node {
	return []*corev1.Node{
		testutil.Node("n1", map[string]string{"zone": "a"}),
		testutil.Node("n2", map[string]string{"zone": "a"}),
		testutil.Node("n3", map[string]string{"zone": "b"}),
		testutil.Node("n4", nil),
	}
}

func TestFilter(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := map[string]string{"app": "db"}
	tests := []struct {
		name     string
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     map[string]string // node -> reason ("" fits)
	}{
		{
			name:     "affinity to zone of a db pod",
			existing: []*corev1.Pod{testutil.On(testutil.Pod("db", db), "n1")},
			pod:      withAffinity(testutil.Pod("p", web), []corev1.PodAffinityTerm{affTerm("zone", db)}, nil),
			want:     map[string]string{"n1": "", "n2": "", "n3": ErrReasonAffinityRulesNotMatch, "n4": ErrReasonAffinityRulesNotMatch},
		},
		{
			name: "first pod of a self-affine group goes anywhere labelled",
			pod:  withAffinity(testutil.Pod("p", web), []corev1.PodAffinityTerm{affTerm("zone", web)}, nil),
			want: map[string]string{"n1": "", "n2": "", "n3": "", "n4": ErrReasonAffinityRulesNotMatch},
		},
		{
			name:     "anti-affinity per zone",
			existing: []*corev1.Pod{testutil.On(testutil.Pod("w1", web), "n2")},
			pod:      withAffinity(testutil.Pod("p", web), nil, []corev1.PodAffinityTerm{affTerm("zone", web)}),
			want:     map[string]string{"n1": ErrReasonAntiAffinityRulesNotMatch, "n2": ErrReasonAntiAffinityRulesNotMatch, "n3": "", "n4": ""},
		},
		{
			name:     "existing pod's anti-affinity repels",
			existing: []*corev1.Pod{testutil.On(withAffinity(testutil.Pod("loner", db), nil, []corev1.PodAffinityTerm{affTerm("kubernetes.io/hostname", web)}), "n3")},
			pod:      testutil.Pod("p", web),
			want:     map[string]string{"n1": "", "n2": "", "n3": ErrReasonExistingAntiAffinityRulesNotMatch, "n4": ""},
		},
		{
			name:     "other namespace does not count",
			existing: []*corev1.Pod{func() *corev1.Pod { p := testutil.On(testutil.Pod("db", db), "n1"); p.Namespace = "other"; return p }()},
			pod:      withAffinity(testutil.Pod("p", web), []corev1.PodAffinityTerm{affTerm("zone", db)}, nil),
			want:     map[string]string{"n1": ErrReasonAffinityRulesNotMatch, "n2": ErrReasonAffinityRulesNotMatch, "n3": ErrReasonAffinityRulesNotMatch, "n4": ErrReasonAffinityRulesNotMatch},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos := testutil.Infos(zonedNodes(), tt.existing...)
			pl := &InterPodAffinity{}
			state := framework.NewCycleState()
			if st := pl.PreFilter(context.Background(), state, tt.pod, infos); !st.IsSuccess() {
				t.Fatalf("PreFilter: %+v", st)
			}
			for _, ni := range infos {
				st := pl.Filter(context.Background(), state, tt.pod, ni)
				if got := st.Message(); got != tt.want[ni.Node.Name] {
					t.Errorf("%s: %q, want %q", ni.Node.Name, got, tt.want[ni.Node.Name])
				}
			}
		})
	}
}

func TestPreFilterSkipsPlainPods(t *testing.T) {
	infos := testutil.Infos(zonedNodes(), testutil.On(testutil.Pod("x", nil), "n1"))
	if st := (&InterPodAffinity{}).PreFilter(context.Background(), framework.NewCycleState(), testutil.Pod("p", nil), infos); !st.IsSkip() {
		t.Fatalf("got %+v, want Skip", st)
	}
}

// AddPod/RemovePod must update the counts as preemption removes victims.
func TestRemovePodLiftsAntiAffinity(t *testing.T) {
	web := map[string]string{"app": "web"}
	w1 := testutil.On(testutil.Pod("w1", web), "n3")
	infos := testutil.Infos(zonedNodes(), w1)
	pod := withAffinity(testutil.Pod("p", web), nil, []corev1.PodAffinityTerm{affTerm("zone", web)})
	pl := &InterPodAffinity{}
	state := framework.NewCycleState()
	pl.PreFilter(context.Background(), state, pod, infos)
	n3 := infos[2]
	if pl.Filter(context.Background(), state, pod, n3).IsSuccess() {
		t.Fatal("n3 should be rejected before removal")
	}
	clone := state.Clone()
	pl.RemovePod(context.Background(), clone, pod, w1, n3)
	if st := pl.Filter(context.Background(), clone, pod, n3); !st.IsSuccess() {
		t.Fatalf("after removal: %+v", st)
	}
	if pl.Filter(context.Background(), state, pod, n3).IsSuccess() {
		t.Fatal("the original state changed with its clone")
	}
}

func TestScorePreferred(t *testing.T) {
	web := map[string]string{"app": "web"}
	cache := map[string]string{"app": "cache"}
	infos := testutil.Infos(zonedNodes(),
		testutil.On(testutil.Pod("c1", cache), "n1"),
		testutil.On(testutil.Pod("w1", web), "n3"))
	pod := testutil.Pod("p", web)
	pod.Spec.Affinity = &corev1.Affinity{
		PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 10, PodAffinityTerm: affTerm("zone", cache)}}},
		PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{
			{Weight: 5, PodAffinityTerm: affTerm("zone", web)}}},
	}
	pl := &InterPodAffinity{}
	state := framework.NewCycleState()
	pl.PreFilter(context.Background(), state, pod, infos)
	if st := pl.PreScore(context.Background(), state, pod, infos); !st.IsSuccess() {
		t.Fatalf("PreScore: %+v", st)
	}
	var scores []framework.NodeScore
	for _, ni := range infos {
		s, _ := pl.Score(context.Background(), state, pod, ni)
		scores = append(scores, framework.NodeScore{Name: ni.Node.Name, Score: s})
	}
	pl.NormalizeScore(context.Background(), state, pod, scores)
	// Raw: zone a +10, zone b -5, n4 0 → normalised over [-5, 10].
	want := map[string]int64{"n1": 100, "n2": 100, "n3": 0, "n4": 33}
	for _, s := range scores {
		if s.Score != want[s.Name] {
			t.Errorf("%s: %d, want %d", s.Name, s.Score, want[s.Name])
		}
	}
}
