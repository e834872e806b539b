package podtopologyspread

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

var web = map[string]string{"app": "web"}

func spread(p *corev1.Pod, key string, skew int32, action corev1.UnsatisfiableConstraintAction, minDomains *int32) *corev1.Pod {
	p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
		MaxSkew: skew, TopologyKey: key, WhenUnsatisfiable: action, LabelSelector: testutil.Selector(web), MinDomains: minDomains,
	})
	return p
}

func nodes() []*corev1.Node {
	return []*corev1.Node{
		testutil.Node("a1", map[string]string{"zone": "a"}),
		testutil.Node("a2", map[string]string{"zone": "a"}),
		testutil.Node("b1", map[string]string{"zone": "b"}),
		testutil.Node("nolabel", nil),
	}
}

func pods(where ...string) []*corev1.Pod {
	var out []*corev1.Pod
	for i, n := range where {
		out = append(out, testutil.On(testutil.Pod("w"+string(rune('0'+i)), web), n))
	}
	return out
}

func TestFilter(t *testing.T) {
	three := int32(3)
	tests := []struct {
		name     string
		existing []*corev1.Pod
		pod      *corev1.Pod
		want     map[string]string
	}{
		{
			name:     "zone a is one ahead",
			existing: pods("a1"),
			pod:      spread(testutil.Pod("p", web), "zone", 1, corev1.DoNotSchedule, nil),
			want:     map[string]string{"a1": ErrReasonConstraintsNotMatch, "a2": ErrReasonConstraintsNotMatch, "b1": "", "nolabel": ErrReasonNodeLabelNotMatch},
		},
		{
			name:     "balanced zones take either",
			existing: pods("a1", "b1"),
			pod:      spread(testutil.Pod("p", web), "zone", 1, corev1.DoNotSchedule, nil),
			want:     map[string]string{"a1": "", "a2": "", "b1": "", "nolabel": ErrReasonNodeLabelNotMatch},
		},
		{
			name:     "maxSkew 2 tolerates one ahead",
			existing: pods("a1"),
			pod:      spread(testutil.Pod("p", web), "zone", 2, corev1.DoNotSchedule, nil),
			want:     map[string]string{"a1": "", "a2": "", "b1": "", "nolabel": ErrReasonNodeLabelNotMatch},
		},
		{
			name:     "minDomains above the domains counts the minimum as 0",
			existing: pods("a1", "b1"),
			pod:      spread(testutil.Pod("p", web), "zone", 1, corev1.DoNotSchedule, &three),
			want:     map[string]string{"a1": ErrReasonConstraintsNotMatch, "a2": ErrReasonConstraintsNotMatch, "b1": ErrReasonConstraintsNotMatch, "nolabel": ErrReasonNodeLabelNotMatch},
		},
		{
			name:     "pod not matching its own selector",
			existing: pods("a1"),
			pod:      spread(testutil.Pod("p", map[string]string{"app": "other"}), "zone", 1, corev1.DoNotSchedule, nil),
			want:     map[string]string{"a1": "", "a2": "", "b1": "", "nolabel": ErrReasonNodeLabelNotMatch},
		},
		{
			name:     "node affinity policy Honor leaves excluded nodes out",
			existing: pods("a1", "a2"),
			pod: func() *corev1.Pod {
				p := spread(testutil.Pod("p", web), "zone", 1, corev1.DoNotSchedule, nil)
				p.Spec.NodeSelector = map[string]string{"zone": "a"}
				return p
			}(),
			// Only zone a counts: its one domain is its own minimum.
			want: map[string]string{"a1": "", "a2": "", "b1": "", "nolabel": ErrReasonNodeLabelNotMatch},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infos := testutil.Infos(nodes(), tt.existing...)
			pl := New()
			state := framework.NewCycleState()
			if st := pl.PreFilter(context.Background(), state, tt.pod, infos); !st.IsSuccess() {
				t.Fatalf("PreFilter: %+v", st)
			}
			for _, ni := range infos {
				if got := pl.Filter(context.Background(), state, tt.pod, ni).Message(); got != tt.want[ni.Node.Name] {
					t.Errorf("%s: %q, want %q", ni.Node.Name, got, tt.want[ni.Node.Name])
				}
			}
		})
	}
}

func TestScoreScheduleAnyway(t *testing.T) {
	infos := testutil.Infos(nodes()[:3], pods("a1", "a2", "a2")...)
	pod := spread(testutil.Pod("p", web), "zone", 1, corev1.ScheduleAnyway, nil)
	pl := New()
	state := framework.NewCycleState()
	if st := pl.PreFilter(context.Background(), state, pod, infos); !st.IsSkip() {
		t.Fatalf("PreFilter with only ScheduleAnyway: %+v, want Skip", st)
	}
	if st := pl.PreScore(context.Background(), state, pod, infos); !st.IsSuccess() {
		t.Fatalf("PreScore: %+v", st)
	}
	var scores []framework.NodeScore
	for _, ni := range infos {
		s, _ := pl.Score(context.Background(), state, pod, ni)
		scores = append(scores, framework.NodeScore{Name: ni.Node.Name, Score: s})
	}
	pl.NormalizeScore(context.Background(), state, pod, scores)
	// zone a has 3 matching pods, b none: b1 best.
	if !(scores[2].Score == 100 && scores[0].Score < 100 && scores[0].Score == scores[1].Score) {
		t.Fatalf("scores %+v", scores)
	}
}

func TestRemovePodUpdatesCounts(t *testing.T) {
	existing := pods("a1")
	infos := testutil.Infos(nodes(), existing...)
	pod := spread(testutil.Pod("p", web), "zone", 1, corev1.DoNotSchedule, nil)
	pl := New()
	state := framework.NewCycleState()
	pl.PreFilter(context.Background(), state, pod, infos)
	clone := state.Clone()
	pl.RemovePod(context.Background(), clone, pod, existing[0], infos[0])
	if st := pl.Filter(context.Background(), clone, pod, infos[0]); !st.IsSuccess() {
		t.Fatalf("after removal: %+v", st)
	}
	if pl.Filter(context.Background(), state, pod, infos[0]).IsSuccess() {
		t.Fatal("original state changed")
	}
}
