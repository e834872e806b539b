package nodeunschedulable

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
	"mini.dev/mini/internal/scheduler/plugins/nodename"
)

func TestFilter(t *testing.T) {
	tolerate := []corev1.Toleration{{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
	tests := []struct {
		name          string
		unschedulable bool
		tols          []corev1.Toleration
		fits          bool
	}{
		{"schedulable", false, nil, true},
		{"cordoned", true, nil, false},
		{"cordoned but tolerated", true, tolerate, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := testutil.Node("n", nil)
			node.Spec.Unschedulable = tt.unschedulable
			pod := testutil.Pod("p", nil)
			pod.Spec.Tolerations = tt.tols
			st := NodeUnschedulable{}.Filter(context.Background(), nil, pod, framework.NewNodeInfo(node))
			if st.IsSuccess() != tt.fits {
				t.Fatalf("fits = %v", st.IsSuccess())
			}
			if !tt.fits && st.Message() != "node(s) were unschedulable" {
				t.Fatalf("reason %q", st.Message())
			}
		})
	}
}

// NodeName is too small for a package test of its own.
func TestNodeName(t *testing.T) {
	ni := framework.NewNodeInfo(testutil.Node("n1", nil))
	for _, tc := range []struct {
		nodeName string
		fits     bool
	}{{"", true}, {"n1", true}, {"n2", false}} {
		pod := testutil.Pod("p", nil)
		pod.Spec.NodeName = tc.nodeName
		st := nodename.NodeName{}.Filter(context.Background(), nil, pod, ni)
		if st.IsSuccess() != tc.fits || (!tc.fits && st.Message() != nodename.ErrReason) {
			t.Errorf("nodeName %q: %+v", tc.nodeName, st)
		}
	}
}
