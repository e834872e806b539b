package disruption

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

func TestStaleDisruptionCondition(t *testing.T) {
	marked := func(name string, ago time.Duration, reason string) *corev1.Pod {
		p := pod(name, true, nil)
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-ago))})
		return p
	}
	client := fake.NewClientset(marked("stale", 3*time.Minute, "EvictionByEvictionAPI"), marked("fresh", time.Minute, "EvictionByEvictionAPI"),
		marked("kubelet", 3*time.Minute, corev1.PodReasonTerminationByKubelet))
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Clock: testingclock.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		factory.Shutdown()
	}()
	factory.WaitForCacheSync(ctx.Done())

	for _, tc := range []struct {
		name  string
		want  corev1.ConditionStatus
		queue bool // left queued for later
	}{
		{"stale", corev1.ConditionFalse, false},
		{"fresh", corev1.ConditionTrue, true},
		{"kubelet", corev1.ConditionTrue, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.syncStale(ctx, "default/"+tc.name); err != nil {
				t.Fatal(err)
			}
			p, err := client.CoreV1().Pods("default").Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.DisruptionTarget && cond.Status != tc.want {
					t.Errorf("condition %+v, want status %s", cond, tc.want)
				}
			}
			if wait, ok := c.staleDisruptionIn(p, now); tc.queue && (!ok || wait != time.Minute) {
				t.Errorf("stale in %v %v, want a minute", wait, ok)
			}
		})
	}
}
