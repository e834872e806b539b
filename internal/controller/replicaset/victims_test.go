package replicaset

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPodsToDeleteRanking(t *testing.T) {
	now := t0
	pod := func(name string, mut func(p *corev1.Pod)) *corev1.Pod {
		p := running(newPod(name, webLabels, nil), "n1", now.Add(-time.Hour))
		p.CreationTimestamp = metav1.NewTime(now.Add(-2 * time.Hour))
		if mut != nil {
			mut(p)
		}
		return p
	}
	tests := []struct {
		name    string
		a, b    *corev1.Pod // a must go before b
		related []*corev1.Pod
	}{
		{"unassigned before assigned", pod("a", func(p *corev1.Pod) { p.Spec.NodeName = "" }), pod("b", nil), nil},
		{"pending before running", pod("a", func(p *corev1.Pod) { p.Status.Phase = corev1.PodPending }), pod("b", nil), nil},
		{"unknown before running", pod("a", func(p *corev1.Pod) { p.Status.Phase = corev1.PodUnknown }), pod("b", nil), nil},
		{"not ready before ready", pod("a", func(p *corev1.Pod) { p.Status.Conditions = nil }), pod("b", nil), nil},
		{"lower deletion cost first", pod("a", func(p *corev1.Pod) {
			p.Annotations = map[string]string{podDeletionCostAnnotation: "-5"}
		}), pod("b", nil), nil},
		{"doubled up first", pod("a", nil), pod("b", func(p *corev1.Pod) { p.Spec.NodeName = "n2" }),
			[]*corev1.Pod{pod("x", nil), pod("y", nil), pod("z", func(p *corev1.Pod) { p.Spec.NodeName = "n2" })}},
		{"ready more recently first", pod("a", func(p *corev1.Pod) {
			p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-time.Minute))
		}), pod("b", nil), nil},
		{"more restarts first", pod("a", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: 3}}
		}), pod("b", nil), nil},
		{"newer first", pod("a", func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-time.Minute)) }), pod("b", nil), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, order := range [][]*corev1.Pod{{tt.a, tt.b}, {tt.b, tt.a}} {
				got := podsToDelete(append([]*corev1.Pod(nil), order...), tt.related, 1, now)
				if got[0].Name != "a" {
					t.Errorf("from %s,%s deleted %s, want a", order[0].Name, order[1].Name, got[0].Name)
				}
			}
		})
	}
}
