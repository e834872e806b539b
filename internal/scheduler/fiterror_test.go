package scheduler

import (
	"testing"

	"mini.dev/mini/internal/scheduler/framework"
)

func TestFitErrorMessage(t *testing.T) {
	st := func(code framework.Code, reasons ...string) *framework.Status {
		return framework.NewStatus(code, reasons...)
	}
	tests := []struct {
		name string
		err  FitError
		want string
	}{
		{
			name: "counts sorted as strings",
			err: FitError{NumAllNodes: 3, Diagnosis: Diagnosis{NodeToStatus: map[string]*framework.Status{
				"n1": st(framework.UnschedulableAndUnresolvable, "node(s) had untolerated taint {key: value}"),
				"n2": st(framework.Unschedulable, "Insufficient cpu"),
				"n3": st(framework.Unschedulable, "Insufficient cpu"),
			}}},
			want: "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, 2 Insufficient cpu.",
		},
		{
			name: "several reasons of one node each count",
			err: FitError{NumAllNodes: 2, Diagnosis: Diagnosis{NodeToStatus: map[string]*framework.Status{
				"n1": st(framework.Unschedulable, "Insufficient cpu", "Insufficient memory"),
				"n2": st(framework.Unschedulable, "Insufficient memory"),
			}, PostFilterMsg: "preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."}},
			want: "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
		},
		{
			name: "absent nodes take the absent status",
			err: FitError{NumAllNodes: 3, Diagnosis: Diagnosis{
				NodeToStatus: map[string]*framework.Status{"n1": st(framework.Unschedulable, msgNoVictims)},
				AbsentStatus: st(framework.UnschedulableAndUnresolvable, msgNotHelpful),
			}},
			want: "0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
		},
		{
			name: "prefilter rejection replaces the per-node reasons",
			err: FitError{NumAllNodes: 5, Diagnosis: Diagnosis{
				PreFilterMsg: "node(s) didn't match pod topology spread constraints",
				AbsentStatus: st(framework.UnschedulableAndUnresolvable, "node(s) didn't match pod topology spread constraints"),
			}},
			want: "0/5 nodes are available: node(s) didn't match pod topology spread constraints.",
		},
		{
			name: "preemption policy never",
			err: FitError{NumAllNodes: 1, Diagnosis: Diagnosis{
				NodeToStatus:  map[string]*framework.Status{"n1": st(framework.Unschedulable, "Insufficient cpu")},
				PostFilterMsg: "preemption: " + msgPolicyNever,
			}},
			want: "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for nodes, want := range map[int]int{10: 10, 99: 99, 100: 100, 250: 120, 1000: 420, 5000: 500, 6000: 300} {
		if got := numFeasibleNodesToFind(nodes); got != want {
			t.Errorf("%d nodes: %d, want %d", nodes, got, want)
		}
	}
}

func TestSelectHostBreaksTiesRandomly(t *testing.T) {
	scores := []framework.NodeScore{{Name: "a", Score: 10}, {Name: "b", Score: 30}, {Name: "c", Score: 30}, {Name: "d", Score: 5}}
	seen := map[string]int{}
	for i := 0; i < 400; i++ {
		seen[selectHost(scores)]++
	}
	if seen["a"]+seen["d"] != 0 || seen["b"] == 0 || seen["c"] == 0 {
		t.Fatalf("picks %v: want only b and c, both", seen)
	}
}
