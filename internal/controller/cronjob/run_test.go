package cronjob

import (
	"context"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

// TestRunOnSchedule runs the controller with a fake clock: nothing before
// the scheduled time, a job once the clock reaches it (the queue's
// AddAfter runs on the same clock).
func TestRunOnSchedule(t *testing.T) {
	client := fake.NewClientset(newCronJob("*/10 * * * *"))
	clk := clocktesting.NewFakeClock(created)
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f, Recorder: record.NewFakeRecorder(1000), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The fake's watch misses what happens before it starts: let the
	// informers' watches begin before the controller writes anything.
	var watching sync.Map
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watching.Store(a.GetResource().Resource, true)
		return false, nil, nil
	})
	f.Start(ctx.Done())
	for _, r := range []string{"cronjobs", "jobs"} {
		deadline := time.Now().Add(10 * time.Second)
		for _, ok := watching.Load(r); !ok; _, ok = watching.Load(r) {
			if time.Now().After(deadline) {
				t.Fatalf("no watch on %s", r)
			}
			time.Sleep(time.Millisecond)
		}
	}
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		f.Shutdown()
	}()
	poll := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	jobCount := func() int {
		l, err := client.BatchV1().Jobs("ns").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	// Walk the fake clock forward in small steps: the job must not exist
	// before 10:10 and must appear soon after (the first sync's AddAfter
	// brings the cron job back then).
	due := time.Date(2025, 3, 1, 10, 10, 0, 0, time.UTC)
	poll("the 10:10 job", func() bool {
		before := clk.Now().Before(due)
		n := jobCount()
		if before && n > 0 {
			t.Fatalf("a job at %v, before the schedule", clk.Now())
		}
		if n > 0 {
			return true
		}
		if clk.Now().Before(due.Add(time.Minute)) {
			clk.Step(10 * time.Second)
		}
		return false
	})
	l, _ := client.BatchV1().Jobs("ns").List(ctx, metav1.ListOptions{})
	if l.Items[0].Name != jobNameAt(due) {
		t.Fatalf("job %s, want %s", l.Items[0].Name, jobNameAt(due))
	}
}
