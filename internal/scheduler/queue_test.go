package scheduler

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func withPriority(p *corev1.Pod, prio int32) *corev1.Pod {
	p.Spec.Priority = &prio
	return p
}

func popNames(t *testing.T, q *queue, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		p, ok := q.pop()
		if !ok {
			t.Fatal("queue closed")
		}
		out = append(out, p.pod.Name)
	}
	return out
}

func TestQueueOrdersByPriorityThenAge(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newQueue(clk)
	q.add(withPriority(testPod("low-old", 0), 0))
	clk.Step(time.Second)
	q.add(withPriority(testPod("high", 0), 100))
	clk.Step(time.Second)
	q.add(withPriority(testPod("low-new", 0), 0))
	q.add(withPriority(testPod("mid", 0), 50))
	got := popNames(t, q, 4)
	want := []string{"high", "mid", "low-old", "low-new"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

func TestBackoffDoublesToTenSeconds(t *testing.T) {
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 9: 10 * time.Second} {
		if got := backoffDuration(attempts); got != want {
			t.Errorf("attempts %d: %v, want %v", attempts, got, want)
		}
	}
}

func TestUnschedulablePodMovesOnEvent(t *testing.T) {
	tests := []struct {
		name        string
		wait        time.Duration // after the failure, before the event
		wantActive  int
		wantBackoff int
	}{
		{"event during backoff goes to backoffQ", 100 * time.Millisecond, 0, 1},
		{"event after backoff goes to activeQ", 2 * time.Second, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
			q := newQueue(clk)
			q.add(testPod("p", 0))
			p, _ := q.pop()
			q.requeueFailed(p, nil, true)
			if a, b, u := q.counts(); a != 0 || b != 0 || u != 1 {
				t.Fatalf("after failure: active %d backoff %d unschedulable %d", a, b, u)
			}
			clk.Step(tt.wait)
			q.moveAll(nil)
			if a, b, u := q.counts(); a != tt.wantActive || b != tt.wantBackoff || u != 0 {
				t.Fatalf("after event: active %d backoff %d unschedulable %d", a, b, u)
			}
		})
	}
}

func TestBackoffFlush(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newQueue(clk)
	q.add(testPod("p", 0))
	p, _ := q.pop()
	p, _ = popAgain(t, q, clk, p) // second attempt: 2 s backoff
	q.requeueFailed(p, nil, false)
	clk.Step(1500 * time.Millisecond)
	q.flushBackoff()
	if a, b, _ := q.counts(); a != 0 || b != 1 {
		t.Fatalf("flushed too early: active %d backoff %d", a, b)
	}
	clk.Step(time.Second)
	q.flushBackoff()
	if a, b, _ := q.counts(); a != 1 || b != 0 {
		t.Fatalf("not flushed: active %d backoff %d", a, b)
	}
}

// popAgain fails p with an error, waits out its backoff and pops it again.
func popAgain(t *testing.T, q *queue, clk *clocktesting.FakeClock, p *queuedPod) (*queuedPod, bool) {
	t.Helper()
	q.requeueFailed(p, nil, false)
	clk.Step(backoffDuration(p.attempts))
	q.flushBackoff()
	return q.pop()
}

func TestEventDuringCycleSkipsParking(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newQueue(clk)
	q.add(testPod("p", 0))
	p, _ := q.pop()
	q.moveAll(nil) // a node was added while p was being scheduled
	q.requeueFailed(p, nil, true)
	if a, b, u := q.counts(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("active %d backoff %d unschedulable %d, want the pod in backoffQ", a, b, u)
	}
}

func TestUnschedulableFlushAfterFiveMinutes(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newQueue(clk)
	q.add(testPod("p", 0))
	p, _ := q.pop()
	q.requeueFailed(p, nil, true)
	clk.Step(4 * time.Minute)
	q.flushUnschedulable()
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("flushed before five minutes")
	}
	clk.Step(2 * time.Minute)
	q.flushUnschedulable()
	if a, _, u := q.counts(); a != 1 || u != 0 {
		t.Fatalf("active %d unschedulable %d after six minutes", a, u)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	q := newQueue(clk)
	q.add(testPod("p", 0))
	p, _ := q.pop()
	q.requeueFailed(p, nil, true)
	clk.Step(time.Minute)

	// A status-only update leaves the pod parked...
	st := p.pod.DeepCopy()
	st.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.update(st)
	if _, _, u := q.counts(); u != 1 {
		t.Fatal("status update moved the pod")
	}
	// ...a spec change retries it.
	spec := st.DeepCopy()
	spec.Spec.NodeSelector = map[string]string{"disk": "ssd"}
	q.update(spec)
	if a, _, u := q.counts(); a != 1 || u != 0 {
		t.Fatalf("spec update: active %d unschedulable %d", a, u)
	}
	q.remove(spec)
	if a, b, u := q.counts(); a+b+u != 0 {
		t.Fatal("deleted pod still queued")
	}
}

func TestPopBlocksUntilAddOrClose(t *testing.T) {
	q := newQueue(clocktesting.NewFakeClock(time.Unix(1000, 0)))
	got := make(chan string)
	go func() {
		p, ok := q.pop()
		if ok {
			got <- p.pod.Name
		}
		close(got)
	}()
	q.add(testPod("late", 0))
	if name := <-got; name != "late" {
		t.Fatalf("popped %q", name)
	}
	done := make(chan struct{})
	go func() {
		if _, ok := q.pop(); ok {
			t.Error("pop returned a pod from an empty closed queue")
		}
		close(done)
	}()
	q.close()
	<-done
}
