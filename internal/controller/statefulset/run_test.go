package statefulset

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestRunFollowsReadiness runs the whole controller: each pod becoming
// ready (an informer event) lets the next one be created.
func TestRunFollowsReadiness(t *testing.T) {
	h := newHarness(t, statefulSet("web", 2, appsv1.OrderedReadyPodManagement))
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.eventually("web-0", func() bool { return slices.Equal(h.podNames(), []string{"web-0"}) })
	h.ready("web-0")
	h.eventually("web-1", func() bool { return slices.Equal(h.podNames(), []string{"web-0", "web-1"}) })
	h.ready("web-1")
	h.eventually("status", func() bool {
		s, err := h.c.setLister.List(labels.Everything())
		return err == nil && len(s) == 1 && s[0].Status.ReadyReplicas == 2 && s[0].Status.AvailableReplicas == 2
	})
}
