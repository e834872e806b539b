package noderesources

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

func rl(cpu, mem string) corev1.ResourceList {
	out := corev1.ResourceList{}
	if cpu != "" {
		out[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		out[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	return out
}

func TestFitFilter(t *testing.T) {
	gpu := corev1.ResourceName("example.com/gpu")
	tests := []struct {
		name     string
		existing []corev1.ResourceList
		pod      *corev1.Pod
		maxPods  string
		want     string // reasons joined, "" = fits
		code     framework.Code
	}{
		{name: "fits", existing: []corev1.ResourceList{rl("1", "1Gi")}, pod: testutil.WithRequests(testutil.Pod("p", nil), rl("3", "7Gi"))},
		{name: "cpu short", existing: []corev1.ResourceList{rl("2", "")}, pod: testutil.WithRequests(testutil.Pod("p", nil), rl("3", "")),
			want: "Insufficient cpu", code: framework.Unschedulable},
		{name: "cpu and memory short", existing: []corev1.ResourceList{rl("2", "6Gi")}, pod: testutil.WithRequests(testutil.Pod("p", nil), rl("3", "3Gi")),
			want: "Insufficient cpu, Insufficient memory", code: framework.Unschedulable},
		{name: "larger than the node", pod: testutil.WithRequests(testutil.Pod("p", nil), rl("5", "")),
			want: "Insufficient cpu", code: framework.UnschedulableAndUnresolvable},
		{name: "too many pods", existing: []corev1.ResourceList{{}}, maxPods: "1", pod: testutil.Pod("p", nil),
			want: "Too many pods", code: framework.Unschedulable},
		{name: "extended resource", pod: testutil.WithRequests(testutil.Pod("p", nil), corev1.ResourceList{gpu: resource.MustParse("1")}),
			want: "Insufficient example.com/gpu", code: framework.UnschedulableAndUnresolvable},
		{name: "init container max counts", pod: func() *corev1.Pod {
			p := testutil.WithRequests(testutil.Pod("p", nil), rl("1", ""))
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{Requests: rl("4500m", "")}}}
			return p
		}(), want: "Insufficient cpu", code: framework.UnschedulableAndUnresolvable},
		{name: "overhead counts", existing: []corev1.ResourceList{rl("3", "")}, pod: func() *corev1.Pod {
			p := testutil.WithRequests(testutil.Pod("p", nil), rl("900m", ""))
			p.Spec.Overhead = rl("200m", "")
			return p
		}(), want: "Insufficient cpu", code: framework.Unschedulable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := testutil.Node("n", nil)
			if tt.maxPods != "" {
				node.Status.Allocatable[corev1.ResourcePods] = resource.MustParse(tt.maxPods)
			}
			ni := framework.NewNodeInfo(node)
			for i, r := range tt.existing {
				ni.AddPod(testutil.On(testutil.WithRequests(testutil.Pod("e"+string(rune('0'+i)), nil), r), "n"))
			}
			pl := Fit{}
			state := framework.NewCycleState()
			pl.PreFilter(context.Background(), state, tt.pod, nil)
			st := pl.Filter(context.Background(), state, tt.pod, ni)
			if got := st.Message(); got != tt.want {
				t.Fatalf("reasons %q, want %q", got, tt.want)
			}
			if tt.want != "" && st.Code != tt.code {
				t.Fatalf("code %v, want %v", st.Code, tt.code)
			}
		})
	}
}

func score(t *testing.T, pl interface {
	PreScore(context.Context, *framework.CycleState, *corev1.Pod, []*framework.NodeInfo) *framework.Status
	Score(context.Context, *framework.CycleState, *corev1.Pod, *framework.NodeInfo) (int64, *framework.Status)
}, pod *corev1.Pod, ni *framework.NodeInfo) int64 {
	t.Helper()
	state := framework.NewCycleState()
	if st := pl.PreScore(context.Background(), state, pod, nil); !st.IsSuccess() {
		t.Fatalf("PreScore: %+v", st)
	}
	s, st := pl.Score(context.Background(), state, pod, ni)
	if !st.IsSuccess() {
		t.Fatal(st)
	}
	return s
}

func TestLeastAllocated(t *testing.T) {
	tests := []struct {
		name     string
		existing corev1.ResourceList
		pod      corev1.ResourceList
		want     int64
	}{
		// cpu (4-1-1)/4 = 50, memory (8-2-2)/8 = 50.
		{"half used", rl("1", "2Gi"), rl("1", "2Gi"), 50},
		// empty pod counts as 100m/200Mi: cpu 3900/4000 → 97, memory (8192-200)/8192 → 97.
		{"empty pod uses defaults", nil, nil, 97},
		// cpu full → 0; memory: the existing pod asked none, so counts
		// 200Mi: (8192-200-1024)/8192 → 85; (0+85)/2 = 42.
		{"cpu full", rl("3", ""), rl("1", "1Gi"), 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := framework.NewNodeInfo(testutil.Node("n", nil))
			if tt.existing != nil {
				ni.AddPod(testutil.On(testutil.WithRequests(testutil.Pod("e", nil), tt.existing), "n"))
			}
			if got := score(t, Fit{}, testutil.WithRequests(testutil.Pod("p", nil), tt.pod), ni); got != tt.want {
				t.Fatalf("score %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBalancedAllocation(t *testing.T) {
	tests := []struct {
		name     string
		existing corev1.ResourceList
		pod      corev1.ResourceList
		want     int64
	}{
		{"balanced", rl("1", "2Gi"), rl("1", "2Gi"), 100},         // 0.5 and 0.5
		{"unbalanced", rl("2", ""), rl("1", "1Gi"), 68},           // 0.75 and 0.125: std 0.3125
		{"over capacity caps at 1", rl("4", ""), rl("1", ""), 50}, // 1 and 0
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := framework.NewNodeInfo(testutil.Node("n", nil))
			ni.AddPod(testutil.On(testutil.WithRequests(testutil.Pod("e", nil), tt.existing), "n"))
			if got := score(t, BalancedAllocation{}, testutil.WithRequests(testutil.Pod("p", nil), tt.pod), ni); got != tt.want {
				t.Fatalf("score %d, want %d", got, tt.want)
			}
		})
	}
	st := BalancedAllocation{}.PreScore(context.Background(), framework.NewCycleState(), testutil.Pod("best-effort", nil), nil)
	if !st.IsSkip() {
		t.Fatalf("best-effort pod: %+v, want Skip", st)
	}
}
