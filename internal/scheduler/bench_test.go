package scheduler

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

// simNode is a node as --sim-nodes makes them: 8 CPU, 32Gi, 110 pods.
func simNode(i int) *corev1.Node {
	name := fmt.Sprintf("sim-%d", i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"type": "sim", corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("8"),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}},
	}
}

// replicaPod is one replica of a ReplicaSet-like workload.
func replicaPod(i int) *corev1.Pod {
	p := testPod(fmt.Sprintf("web-%d", i), 100)
	p.Labels = map[string]string{"app": "web"}
	p.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = resource.MustParse("64Mi")
	p.CreationTimestamp = metav1.NewTime(time.Unix(0, int64(i)))
	return p
}

// benchScheduler is a scheduler whose cache and queue are fed directly
// and whose binder does nothing, so that only scheduling is measured.
func benchScheduler(tb testing.TB, nodes, pods int) *Scheduler {
	tb.Helper()
	cs := fake.NewClientset()
	s, err := New(Config{Client: cs, Informers: informers.NewSharedInformerFactory(cs, 0), Recorder: &record.FakeRecorder{}})
	if err != nil {
		tb.Fatal(err)
	}
	s.bind = func(context.Context, *corev1.Pod, string) error { return nil }
	for i := 0; i < nodes; i++ {
		s.cache.addNode(simNode(i))
	}
	for i := 0; i < pods; i++ {
		s.queue.add(replicaPod(i))
	}
	return s
}

// scheduleAll runs n cycles and returns how many pods were placed.
func scheduleAll(s *Scheduler, n int) int {
	ctx := context.Background()
	for i := 0; i < n; i++ {
		s.scheduleOne(ctx)
	}
	s.binding.Wait()
	placed := 0
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	for _, ps := range s.cache.pods {
		if ps.assumed {
			placed++
		}
	}
	return placed
}

// BenchmarkSchedule10kPods1kNodes measures the target: 10,000
// pods on 1,000 simulated nodes, >= 2,000 pods/s.
func BenchmarkSchedule10kPods1kNodes(b *testing.B) {
	const nodes, pods = 1000, 10000
	for b.Loop() {
		b.StopTimer()
		s := benchScheduler(b, nodes, pods)
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		if placed := scheduleAll(s, pods); placed != pods {
			b.Fatalf("placed %d of %d pods", placed, pods)
		}
		b.ReportMetric(float64(pods)/time.Since(start).Seconds(), "pods/s")
		// On a shared machine wall time says little: CPU per pod tells
		// what two idle cores would do.
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/pods, "cpu-µs/pod")
	}
}

// TestScheduleManyPodsSpreads places a smaller batch and checks that
// least-allocated scoring spread the pods evenly.
func TestScheduleManyPodsSpreads(t *testing.T) {
	const nodes, pods = 50, 500
	s := benchScheduler(t, nodes, pods)
	if placed := scheduleAll(s, pods); placed != pods {
		t.Fatalf("placed %d of %d pods", placed, pods)
	}
	s.cache.mu.Lock()
	defer s.cache.mu.Unlock()
	for name, ni := range s.cache.nodes {
		if n := len(ni.Pods); n < 9 || n > 11 {
			t.Errorf("node %s has %d pods, want about %d", name, n, pods/nodes)
		}
	}
}

// cpuTime is the CPU time the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScheduleSpread1kPods1kNodes is the same with a zone and a
// hostname topology spread constraint on every pod, the costliest
// common case (counting matching pods across the cluster per pod).
func BenchmarkScheduleSpread1kPods1kNodes(b *testing.B) {
	const nodes, pods = 1000, 1000
	for b.Loop() {
		b.StopTimer()
		s := benchScheduler(b, nodes, 0)
		for i := 0; i < nodes; i++ {
			n := simNode(i)
			n.Labels[corev1.LabelTopologyZone] = fmt.Sprintf("zone-%d", i%3)
			s.cache.addNode(n)
		}
		for i := 0; i < pods; i++ {
			p := replicaPod(i)
			for _, c := range []struct {
				key    string
				action corev1.UnsatisfiableConstraintAction
			}{{corev1.LabelTopologyZone, corev1.DoNotSchedule}, {corev1.LabelHostname, corev1.ScheduleAnyway}} {
				p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, corev1.TopologySpreadConstraint{
					MaxSkew: 1, TopologyKey: c.key, WhenUnsatisfiable: c.action,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				})
			}
			s.queue.add(p)
		}
		b.StartTimer()
		start, cpu0 := time.Now(), cpuTime()
		if placed := scheduleAll(s, pods); placed != pods {
			b.Fatalf("placed %d of %d pods", placed, pods)
		}
		b.ReportMetric(float64(pods)/time.Since(start).Seconds(), "pods/s")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/pods, "cpu-µs/pod")
	}
}
