package job

import (
	"math"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestJobCompletes(t *testing.T) {
	h := newHarness(t, newJob("pi", ptr.To[int32](3), ptr.To[int32](2)))
	h.sync("pi")
	pods := h.activePods()
	if len(pods) != 2 {
		t.Fatalf("want 2 pods, got %d", len(pods))
	}
	for _, p := range pods {
		if !hasTrackingFinalizer(p) || p.GenerateName != "pi-" || p.Labels[batchv1.JobNameLabel] != "pi" ||
			!metavOwnedBy(p, "pi") {
			t.Fatalf("pod %s: finalizers %v, generateName %q, labels %v", p.Name, p.Finalizers, p.GenerateName, p.Labels)
		}
	}
	j := h.job("pi")
	if j.Status.Active != 2 || j.Status.StartTime == nil || ptr.Deref(j.Status.Ready, -1) != 0 {
		t.Fatalf("status after create: %+v", j.Status)
	}
	if ev := h.events(); !hasEvent(ev, "Normal SuccessfulCreate Created pod: pi-") {
		t.Fatalf("events %v", ev)
	}

	h.finish(pods[0], 0)
	h.finish(pods[1], 0)
	h.sync("pi")
	j = h.job("pi")
	if j.Status.Succeeded != 2 || j.Status.Active != 1 || len(j.Status.UncountedTerminatedPods.Succeeded) != 0 {
		t.Fatalf("status after two successes: %+v", j.Status)
	}
	for _, p := range h.pods() {
		if p.Status.Phase == corev1.PodSucceeded && hasTrackingFinalizer(p) {
			t.Fatalf("counted pod %s keeps its finalizer", p.Name)
		}
	}
	if cond(j, batchv1.JobComplete) != nil {
		t.Fatal("complete too early")
	}

	last := h.activePods()
	if len(last) != 1 {
		t.Fatalf("want 1 active pod, got %d", len(last))
	}
	h.clock.Step(5 * time.Second)
	h.finish(last[0], 0)
	h.sync("pi")
	j = h.job("pi")
	c := cond(j, batchv1.JobComplete)
	if c == nil || c.Status != corev1.ConditionTrue || j.Status.Succeeded != 3 || j.Status.CompletionTime == nil || j.Status.Active != 0 {
		t.Fatalf("status at the end: %+v", j.Status)
	}
	if sc := cond(j, batchv1.JobSuccessCriteriaMet); sc == nil || sc.Reason != "CompletionsReached" {
		t.Fatalf("want SuccessCriteriaMet before Complete, got %+v", j.Status.Conditions)
	}
	if ev := h.events(); !hasEvent(ev, "Normal Completed Job completed") {
		t.Fatalf("events %v", ev)
	}
	// A finished job is left alone.
	h.sync("pi")
	if len(h.pods()) != 3 {
		t.Fatalf("pods after completion: %d", len(h.pods()))
	}
}

func metavOwnedBy(p *corev1.Pod, job string) bool {
	for _, r := range p.OwnerReferences {
		if r.Kind == "Job" && r.Name == job && r.Controller != nil && *r.Controller {
			return true
		}
	}
	return false
}

func TestJobBackoffLimit(t *testing.T) {
	h := newHarness(t, newJob("fail", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](2)
	}))
	wantDelays := []time.Duration{10 * time.Second, 20 * time.Second}
	h.sync("fail")
	for i := 0; i < 3; i++ {
		pods := h.activePods()
		if len(pods) != 1 {
			t.Fatalf("round %d: want 1 active pod, got %d", i, len(pods))
		}
		h.finish(pods[0], 1)
		h.sync("fail")
		if i == 2 {
			break
		}
		// The replacement waits for the backoff.
		if n := len(h.activePods()); n != 0 {
			t.Fatalf("round %d: replacement created without backoff", i)
		}
		if got := h.job("fail").Status.Failed; got != int32(i+1) {
			t.Fatalf("round %d: failed = %d", i, got)
		}
		h.clock.Step(wantDelays[i] - time.Second)
		h.sync("fail")
		if n := len(h.activePods()); n != 0 {
			t.Fatalf("round %d: replacement created before %v", i, wantDelays[i])
		}
		h.clock.Step(time.Second)
		h.sync("fail")
	}
	j := h.job("fail")
	ft := cond(j, batchv1.JobFailureTarget)
	f := cond(j, batchv1.JobFailed)
	if ft == nil || f == nil || f.Reason != "BackoffLimitExceeded" || f.Message != "Job has reached the specified backoff limit" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if j.Status.Failed != 3 || j.Status.Active != 0 || j.Status.CompletionTime != nil {
		t.Fatalf("status %+v", j.Status)
	}
	if ev := h.events(); !hasEvent(ev, "Warning BackoffLimitExceeded Job has reached the specified backoff limit") {
		t.Fatalf("events %v", ev)
	}
}

func TestBackoffDelays(t *testing.T) {
	tests := []struct {
		failures int32
		elapsed  time.Duration
		want     time.Duration
	}{
		{0, 0, 0},
		{1, 0, 10 * time.Second},
		{2, 5 * time.Second, 15 * time.Second},
		{3, 0, 40 * time.Second},
		{7, 0, 10 * time.Minute},
		{20, time.Minute, 9 * time.Minute},
		{1, time.Hour, 0},
	}
	for _, tt := range tests {
		h := newHarness(t)
		last := h.clock.Now()
		h.clock.Step(tt.elapsed)
		if got := remainingForFailures(h.clock, DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff, tt.failures, &last); got != tt.want {
			t.Errorf("failures %d after %v: %v, want %v", tt.failures, tt.elapsed, got, tt.want)
		}
	}
}

func TestActiveDeadline(t *testing.T) {
	h := newHarness(t, newJob("dl", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30)
	}))
	h.sync("dl")
	if n := len(h.activePods()); n != 1 {
		t.Fatalf("pods %d", n)
	}
	h.clock.Step(29 * time.Second)
	h.sync("dl")
	if cond(h.job("dl"), batchv1.JobFailureTarget) != nil {
		t.Fatal("failed before the deadline")
	}
	h.clock.Step(time.Second)
	h.sync("dl")
	if n := len(h.activePods()); n != 0 {
		t.Fatalf("active pods after deadline: %d", n)
	}
	h.sync("dl")
	j := h.job("dl")
	f := cond(j, batchv1.JobFailed)
	if f == nil || f.Reason != "DeadlineExceeded" || f.Message != "Job was active longer than specified deadline" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
	if j.Status.Failed != 1 {
		t.Fatalf("the deleted running pod counts as failed: %+v", j.Status)
	}
	if ev := h.events(); !hasEvent(ev, "Warning DeadlineExceeded") || !hasEvent(ev, "SuccessfulDelete") {
		t.Fatalf("events %v", ev)
	}
}

func TestSuspendAndResume(t *testing.T) {
	h := newHarness(t, newJob("s", ptr.To[int32](4), ptr.To[int32](2)))
	h.sync("s")
	if n := len(h.activePods()); n != 2 {
		t.Fatalf("pods %d", n)
	}
	j := h.job("s")
	j.Spec.Suspend = ptr.To(true)
	if _, err := h.client.BatchV1().Jobs("ns").Update(h.ctx, j, metavUpdate()); err != nil {
		t.Fatal(err)
	}
	h.sync("s")
	j = h.job("s")
	sc := cond(j, batchv1.JobSuspended)
	if sc == nil || sc.Status != corev1.ConditionTrue || sc.Reason != "JobSuspended" || j.Status.Active != 0 || j.Status.StartTime != nil {
		t.Fatalf("status when suspended: %+v", j.Status)
	}
	if len(h.pods()) != 0 || j.Status.Failed != 0 {
		t.Fatalf("suspension must delete pods without counting them: %d pods, %+v", len(h.pods()), j.Status)
	}
	if ev := h.events(); !hasEvent(ev, "Normal Suspended Job suspended") {
		t.Fatalf("events %v", ev)
	}
	h.clock.Step(time.Minute)
	j.Spec.Suspend = ptr.To(false)
	if _, err := h.client.BatchV1().Jobs("ns").Update(h.ctx, j, metavUpdate()); err != nil {
		t.Fatal(err)
	}
	h.sync("s")
	j = h.job("s")
	sc = cond(j, batchv1.JobSuspended)
	if sc == nil || sc.Status != corev1.ConditionFalse || sc.Reason != "JobResumed" || j.Status.Active != 2 ||
		j.Status.StartTime == nil || !j.Status.StartTime.Time.Equal(h.clock.Now()) {
		t.Fatalf("status when resumed: %+v", j.Status)
	}
}

func TestIndexedJob(t *testing.T) {
	h := newHarness(t, newJob("ix", ptr.To[int32](3), ptr.To[int32](3), func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	}))
	h.sync("ix")
	pods := h.activePods()
	if len(pods) != 3 {
		t.Fatalf("pods %d", len(pods))
	}
	seen := map[int]*corev1.Pod{}
	for _, p := range pods {
		ix := completionIndex(p)
		if p.Labels[batchv1.JobCompletionIndexAnnotation] != p.Annotations[batchv1.JobCompletionIndexAnnotation] ||
			p.Spec.Hostname != "ix-"+p.Annotations[batchv1.JobCompletionIndexAnnotation] ||
			p.GenerateName != "ix-"+p.Annotations[batchv1.JobCompletionIndexAnnotation]+"-" {
			t.Fatalf("pod %s: labels %v hostname %q generateName %q", p.Name, p.Labels, p.Spec.Hostname, p.GenerateName)
		}
		env := p.Spec.Containers[0].Env
		if len(env) != 1 || env[0].Name != "JOB_COMPLETION_INDEX" || env[0].ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Fatalf("env %+v", env)
		}
		seen[ix] = p
	}
	if len(seen) != 3 || seen[0] == nil || seen[2] == nil {
		t.Fatalf("indexes %v", seen)
	}
	h.finish(seen[0], 0)
	h.finish(seen[2], 0)
	h.finish(seen[1], 1)
	h.sync("ix")
	j := h.job("ix")
	if j.Status.CompletedIndexes != "0,2" || j.Status.Succeeded != 2 || j.Status.Failed != 1 {
		t.Fatalf("status %+v", j.Status)
	}
	h.clock.Step(10 * time.Second)
	h.sync("ix")
	again := h.activePods()
	if len(again) != 1 || completionIndex(again[0]) != 1 {
		t.Fatalf("want index 1 recreated, got %d pods", len(again))
	}
	h.finish(again[0], 0)
	h.sync("ix")
	j = h.job("ix")
	if j.Status.CompletedIndexes != "0-2" || cond(j, batchv1.JobComplete) == nil {
		t.Fatalf("status %+v", j.Status)
	}
}

func TestPodFailurePolicy(t *testing.T) {
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{42}}},
	}}
	tests := []struct {
		name       string
		exit       int32
		disrupted  bool
		wantFailed int32
		wantReason string
		wantMsg    string
	}{
		{name: "FailJob on exit code", exit: 42, wantFailed: 1, wantReason: "PodFailurePolicy", wantMsg: "Container c for pod ns/%s failed with exit code 42 matching FailJob rule at index 1"},
		{name: "Ignore on disruption", exit: 137, disrupted: true, wantFailed: 0},
		{name: "Count others", exit: 1, wantFailed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, newJob("pfp", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
				j.Spec.PodFailurePolicy = policy
			}))
			h.sync("pfp")
			p := h.activePods()[0]
			if tt.disrupted {
				p.Status.Conditions = []corev1.PodCondition{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}
			}
			h.finish(p, tt.exit)
			h.sync("pfp")
			h.sync("pfp")
			j := h.job("pfp")
			if j.Status.Failed != tt.wantFailed {
				t.Fatalf("failed = %d, want %d", j.Status.Failed, tt.wantFailed)
			}
			f := cond(j, batchv1.JobFailed)
			if tt.wantReason == "" {
				if f != nil {
					t.Fatalf("job failed: %+v", f)
				}
				// Replaced after the pod-failure backoff, as upstream
				// (ignored failures still back off, they just do not count).
				h.clock.Step(DefaultJobPodFailureBackOff)
				h.sync("pfp")
				if n := len(h.activePods()); n != 1 {
					t.Fatalf("want the failed pod replaced, %d active", n)
				}
				return
			}
			if f == nil || f.Reason != tt.wantReason || f.Message != sprintf(tt.wantMsg, p.Name) {
				t.Fatalf("conditions %+v", j.Status.Conditions)
			}
		})
	}
}

func TestBackoffLimitPerIndex(t *testing.T) {
	h := newHarness(t, newJob("pi", ptr.To[int32](3), ptr.To[int32](3), func(j *batchv1.Job) {
		j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
		j.Spec.BackoffLimitPerIndex = ptr.To[int32](1)
		j.Spec.BackoffLimit = ptr.To[int32](math.MaxInt32)
	}))
	h.sync("pi")
	byIndex := func() map[int]*corev1.Pod {
		out := map[int]*corev1.Pod{}
		for _, p := range h.activePods() {
			out[completionIndex(p)] = p
		}
		return out
	}
	pods := byIndex()
	if len(pods) != 3 || pods[0].Annotations[batchv1.JobIndexFailureCountAnnotation] != "0" {
		t.Fatalf("pods %v", pods)
	}
	h.finish(pods[0], 1)
	h.finish(pods[1], 0)
	h.sync("pi")
	// Index 0 gets a second chance after its own backoff.
	if _, ok := byIndex()[0]; ok {
		t.Fatal("index 0 recreated without backoff")
	}
	h.clock.Step(DefaultJobPodFailureBackOff)
	h.sync("pi")
	retry := byIndex()[0]
	if retry == nil || retry.Annotations[batchv1.JobIndexFailureCountAnnotation] != "1" {
		t.Fatalf("retry of index 0: %+v", retry)
	}
	h.finish(retry, 1)
	h.finish(byIndex()[2], 0)
	h.sync("pi")
	h.sync("pi")
	j := h.job("pi")
	if ptr.Deref(j.Status.FailedIndexes, "") != "0" || j.Status.CompletedIndexes != "1,2" || j.Status.Failed != 2 {
		t.Fatalf("status %+v", j.Status)
	}
	f := cond(j, batchv1.JobFailed)
	if f == nil || f.Reason != batchv1.JobReasonFailedIndexes || f.Message != "Job has failed indexes" {
		t.Fatalf("conditions %+v", j.Status.Conditions)
	}
}

func TestAdoptsOrphanWithFinalizer(t *testing.T) {
	j := newJob("adopt", ptr.To[int32](1), ptr.To[int32](1))
	orphan := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stray", Namespace: "ns", UID: "stray", Labels: j.Spec.Template.Labels},
		Spec:       j.Spec.Template.Spec,
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	h := newHarness(t, j, orphan)
	h.sync("adopt")
	pods := h.pods()
	if len(pods) != 1 {
		t.Fatalf("want the orphan adopted instead of a new pod, got %d pods", len(pods))
	}
	if !metavOwnedBy(pods[0], "adopt") || !hasTrackingFinalizer(pods[0]) {
		t.Fatalf("pod %+v", pods[0].ObjectMeta)
	}
	if got := h.job("adopt").Status.Active; got != 1 {
		t.Fatalf("active %d", got)
	}
}

// With restartPolicy OnFailure the kubelet restarts the container; the
// restarts count against backoffLimit.
func TestBackoffLimitOnFailureRestarts(t *testing.T) {
	h := newHarness(t, newJob("onf", ptr.To[int32](1), ptr.To[int32](1), func(j *batchv1.Job) {
		j.Spec.BackoffLimit = ptr.To[int32](2)
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	}))
	h.sync("onf")
	restart := func(n int32) {
		p := h.activePods()[0]
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", RestartCount: n}}
		if _, err := h.client.CoreV1().Pods("ns").UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		h.sync("onf")
	}
	restart(1)
	if cond(h.job("onf"), batchv1.JobFailureTarget) != nil {
		t.Fatal("failed after one restart of two allowed")
	}
	restart(2)
	h.sync("onf")
	j := h.job("onf")
	f := cond(j, batchv1.JobFailed)
	if f == nil || f.Reason != "BackoffLimitExceeded" || len(h.pods()) != 0 {
		t.Fatalf("status %+v, %d pods", j.Status, len(h.pods()))
	}
}
