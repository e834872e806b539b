package cronjob

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// harness drives sync by hand over caches refreshed from the fake.
type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *clocktesting.FakeClock
	rec    *record.FakeRecorder
	c      *Controller
	cjIdx  cache.Indexer
	jobIdx cache.Indexer
}

// created is 2025-03-01 10:00:30 UTC, just after a whole hour and minute.
var created = time.Date(2025, 3, 1, 10, 0, 30, 0, time.UTC)

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	h := &harness{t: t, ctx: context.Background(), client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(created), rec: record.NewFakeRecorder(1000)}
	h.client.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		j.UID = types.UID("uid-" + j.Name)
		return false, nil, nil
	})
	f := informers.NewSharedInformerFactory(h.client, 0)
	c, err := New(Config{Client: h.client, Informers: f, Recorder: h.rec, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.cjIdx = f.Batch().V1().CronJobs().Informer().GetIndexer()
	h.jobIdx = f.Batch().V1().Jobs().Informer().GetIndexer()
	return h
}

func (h *harness) refresh() {
	h.t.Helper()
	cjs, err := h.client.BatchV1().CronJobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var objs []any
	for i := range cjs.Items {
		objs = append(objs, &cjs.Items[i])
	}
	_ = h.cjIdx.Replace(objs, "")
	jobs, err := h.client.BatchV1().Jobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	objs = nil
	for i := range jobs.Items {
		objs = append(objs, &jobs.Items[i])
	}
	_ = h.jobIdx.Replace(objs, "")
}

func (h *harness) sync() *time.Duration {
	h.t.Helper()
	h.refresh()
	d, err := h.c.sync(h.ctx, "ns/cj")
	if err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	return d
}

func (h *harness) cronJob() *batchv1.CronJob {
	cj, err := h.client.BatchV1().CronJobs("ns").Get(h.ctx, "cj", metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return cj
}

func (h *harness) jobs() map[string]*batchv1.Job {
	list, err := h.client.BatchV1().Jobs("ns").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]*batchv1.Job{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// finishJob marks a job Complete or Failed at the clock's time.
func (h *harness) finishJob(name string, t batchv1.JobConditionType) {
	h.t.Helper()
	j := h.jobs()[name]
	now := metav1.NewTime(h.clock.Now())
	j.Status.StartTime = ptr.To(j.CreationTimestamp)
	j.Status.Conditions = append(j.Status.Conditions, batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	if t == batchv1.JobComplete {
		j.Status.CompletionTime = &now
	}
	if _, err := h.client.BatchV1().Jobs("ns").UpdateStatus(h.ctx, j, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEvent(events []string, s string) bool {
	for _, e := range events {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

func newCronJob(schedule string, mutate ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "cj", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{
			Schedule:                   schedule,
			ConcurrencyPolicy:          batchv1.AllowConcurrent,
			Suspend:                    ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3),
			FailedJobsHistoryLimit:     ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}, Annotations: map[string]string{"note": "y"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyOnFailure,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				}}},
			},
		},
	}
	for _, m := range mutate {
		m(cj)
	}
	return cj
}

func jobNameAt(t time.Time) string { return fmt.Sprintf("cj-%d", t.Unix()/60) }

func TestCreatesJobOnSchedule(t *testing.T) {
	h := newHarness(t, newCronJob("*/5 * * * *"))
	d := h.sync()
	if len(h.jobs()) != 0 {
		t.Fatal("a job before the first scheduled time")
	}
	first := time.Date(2025, 3, 1, 10, 5, 0, 0, time.UTC)
	if d == nil || *d != first.Sub(created)+nextScheduleDelta {
		t.Fatalf("requeue after %v, want %v", d, first.Sub(created)+nextScheduleDelta)
	}
	h.clock.SetTime(first.Add(nextScheduleDelta))
	d = h.sync()
	j := h.jobs()[jobNameAt(first)]
	if j == nil {
		t.Fatalf("no job %s: %v", jobNameAt(first), h.jobs())
	}
	if j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2025-03-01T10:05:00Z" || j.Annotations["note"] != "y" || j.Labels["app"] != "x" {
		t.Fatalf("job metadata %+v", j.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(j); ref == nil || ref.Kind != "CronJob" || ref.Name != "cj" {
		t.Fatalf("owner %+v", j.OwnerReferences)
	}
	cj := h.cronJob()
	if len(cj.Status.Active) != 1 || cj.Status.Active[0].Name != j.Name || !cj.Status.LastScheduleTime.Time.Equal(first) {
		t.Fatalf("status %+v", cj.Status)
	}
	if want := 5*time.Minute - 0; d == nil || *d != want {
		t.Fatalf("requeue after %v, want %v", d, want)
	}
	if ev := h.events(); !hasEvent(ev, "Normal SuccessfulCreate Created job "+j.Name) {
		t.Fatalf("events %v", ev)
	}
	// The same time is never run twice.
	h.sync()
	if len(h.jobs()) != 1 {
		t.Fatalf("jobs %d", len(h.jobs()))
	}
	// Completion is seen.
	h.clock.Step(time.Minute)
	h.finishJob(j.Name, batchv1.JobComplete)
	h.sync()
	cj = h.cronJob()
	if len(cj.Status.Active) != 0 || cj.Status.LastSuccessfulTime == nil || !cj.Status.LastSuccessfulTime.Time.Equal(h.clock.Now()) {
		t.Fatalf("status %+v", cj.Status)
	}
	if ev := h.events(); !hasEvent(ev, "Normal SawCompletedJob Saw completed job: "+j.Name+", condition: Complete") {
		t.Fatalf("events %v", ev)
	}
}

func TestTimeZone(t *testing.T) {
	h := newHarness(t, newCronJob("0 6 * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Europe/Paris") }))
	at := time.Date(2025, 3, 2, 5, 0, 0, 0, time.UTC) // 06:00 in Paris
	h.clock.SetTime(at.Add(time.Second))
	h.sync()
	j := h.jobs()[jobNameAt(at)]
	if j == nil {
		t.Fatalf("no job at %v: %v", at, h.jobs())
	}
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2025-03-02T06:00:00+01:00" {
		t.Fatalf("annotation %q", got)
	}
}

func TestConcurrencyPolicy(t *testing.T) {
	first := time.Date(2025, 3, 1, 10, 1, 0, 0, time.UTC)
	second := first.Add(time.Minute)
	tests := []struct {
		policy     batchv1.ConcurrencyPolicy
		wantJobs   []string
		wantActive []string
		wantEvent  string
	}{
		{batchv1.AllowConcurrent, []string{jobNameAt(first), jobNameAt(second)}, []string{jobNameAt(first), jobNameAt(second)}, "Created job"},
		{batchv1.ForbidConcurrent, []string{jobNameAt(first)}, []string{jobNameAt(first)}, "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid"},
		{batchv1.ReplaceConcurrent, []string{jobNameAt(second)}, []string{jobNameAt(second)}, "Normal SuccessfulDelete Deleted job " + jobNameAt(first)},
	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			h := newHarness(t, newCronJob("* * * * *", func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = tt.policy }))
			h.clock.SetTime(first.Add(time.Second))
			h.sync()
			h.clock.SetTime(second.Add(time.Second))
			h.sync()
			jobs := h.jobs()
			if len(jobs) != len(tt.wantJobs) {
				t.Fatalf("jobs %v, want %v", jobs, tt.wantJobs)
			}
			for _, n := range tt.wantJobs {
				if jobs[n] == nil {
					t.Fatalf("missing job %s", n)
				}
			}
			var active []string
			for _, r := range h.cronJob().Status.Active {
				active = append(active, r.Name)
			}
			if fmt.Sprint(active) != fmt.Sprint(tt.wantActive) {
				t.Fatalf("active %v, want %v", active, tt.wantActive)
			}
			if ev := h.events(); !hasEvent(ev, tt.wantEvent) {
				t.Fatalf("events %v", ev)
			}
		})
	}
}

func TestStartingDeadlineAndSuspend(t *testing.T) {
	h := newHarness(t, newCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60) }))
	// The controller was down at 11:00 and comes back at 11:05.
	h.clock.SetTime(time.Date(2025, 3, 1, 11, 5, 0, 0, time.UTC))
	d := h.sync()
	if len(h.jobs()) != 0 {
		t.Fatal("started after the starting deadline")
	}
	if d == nil || *d != 55*time.Minute+nextScheduleDelta {
		t.Fatalf("requeue %v", d)
	}
	// Suspended: nothing at noon.
	cj := h.cronJob()
	cj.Spec.Suspend = ptr.To(true)
	if _, err := h.client.BatchV1().CronJobs("ns").Update(h.ctx, cj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.clock.SetTime(time.Date(2025, 3, 1, 12, 0, 1, 0, time.UTC))
	if d := h.sync(); d != nil || len(h.jobs()) != 0 {
		t.Fatalf("suspended cronjob ran: requeue %v, jobs %d", d, len(h.jobs()))
	}
}

func TestMissedSchedules(t *testing.T) {
	h := newHarness(t, newCronJob("* * * * *"))
	// Three hours later: 180 missed; only the latest runs, with a warning.
	now := created.Add(3 * time.Hour)
	h.clock.SetTime(now)
	h.sync()
	latest := now.Truncate(time.Minute)
	if jobs := h.jobs(); len(jobs) != 1 || jobs[jobNameAt(latest)] == nil {
		t.Fatalf("jobs %v", jobs)
	}
	if ev := h.events(); !hasEvent(ev, "Warning TooManyMissedTimes too many missed start times") {
		t.Fatalf("events %v", ev)
	}
}

func TestHistoryLimits(t *testing.T) {
	h := newHarness(t, newCronJob("* * * * *", func(cj *batchv1.CronJob) {
		cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2)
		cj.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}))
	var names []string
	for i := 1; i <= 6; i++ {
		h.clock.SetTime(created.Truncate(time.Minute).Add(time.Duration(i)*time.Minute + time.Second))
		h.sync()
		name := jobNameAt(h.clock.Now().Truncate(time.Minute))
		names = append(names, name)
		if i%3 == 0 {
			h.finishJob(name, batchv1.JobFailed)
		} else {
			h.finishJob(name, batchv1.JobComplete)
		}
	}
	h.sync()
	// Succeeded: 1 2 4 5 -> keep 4 5; failed: 3 6 -> keep 6.
	jobs := h.jobs()
	want := []string{names[3], names[4], names[5]}
	if len(jobs) != len(want) {
		t.Fatalf("jobs %v, want %v", jobs, want)
	}
	for _, n := range want {
		if jobs[n] == nil {
			t.Fatalf("job %s deleted, want kept; have %v", n, jobs)
		}
	}
	if ev := h.events(); !hasEvent(ev, "SuccessfulDelete Deleted job "+names[0]) {
		t.Fatalf("events %v", ev)
	}
}
