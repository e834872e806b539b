package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Upstream's timings (pkg/controller/job): API errors are retried from
// 1 s to 1 min; failed pods are replaced after 10 s doubling per
// consecutive failure, at most 10 min.
const (
	DefaultJobAPIBackOff        = time.Second
	MaxJobAPIBackOff            = time.Minute
	DefaultJobPodFailureBackOff = 10 * time.Second
	MaxJobPodFailureBackOff     = 10 * time.Minute
	// maxUncountedPods keeps status.uncountedTerminatedPods small (upstream
	// 500: about 20 KB of UIDs).
	maxUncountedPods = 500
	// maxPodCreateDeletePerSync bounds one sync's API calls (upstream 500).
	maxPodCreateDeletePerSync = 500
)

// Condition reasons upstream does not export as constants.
const (
	reasonCompletionsReached = "CompletionsReached"
	msgCompletionsReached    = "Reached expected number of succeeded pods"
	reasonBackoffLimit       = batchv1.JobReasonBackoffLimitExceeded
	msgBackoffLimit          = "Job has reached the specified backoff limit"
	reasonDeadline           = batchv1.JobReasonDeadlineExceeded
	msgDeadline              = "Job was active longer than specified deadline"
	jobControllerName        = "kubernetes.io/job-controller"
)

func hasTrackingFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == batchv1.JobTrackingFinalizer {
			return true
		}
	}
	return false
}

// jobFinished: Complete or Failed is true.
func jobFinished(j *batchv1.Job) bool {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func jobSuspended(j *batchv1.Job) bool { return j.Spec.Suspend != nil && *j.Spec.Suspend }

func isIndexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

func hasBackoffLimitPerIndex(j *batchv1.Job) bool {
	return isIndexed(j) && j.Spec.BackoffLimitPerIndex != nil
}

// onlyReplaceFailedPods: a replacement waits for the old pod to be fully
// gone (phase Failed), as upstream decides it.
func onlyReplaceFailedPods(j *batchv1.Job) bool {
	if j.Spec.PodReplacementPolicy != nil && *j.Spec.PodReplacementPolicy == batchv1.Failed {
		return true
	}
	return j.Spec.PodFailurePolicy != nil
}

// isPodFailed is upstream's: Failed phase, or (unless only Failed pods
// count) deleted before succeeding, which covers pods that never got the
// chance to reach a phase.
func isPodFailed(p *corev1.Pod, j *batchv1.Job) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailedPods(j) {
		return false
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded
}

func isActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.DeletionTimestamp == nil
}

func isTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func findCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func conditionTrue(j *batchv1.Job, t batchv1.JobConditionType) bool {
	c := findCondition(j.Status.Conditions, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

func newCondition(t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) *batchv1.JobCondition {
	return &batchv1.JobCondition{
		Type: t, Status: status, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now),
	}
}

// ensureCondition sets condition t to status/reason/message, appending it
// when missing (and status is True: a False condition is only recorded
// over an existing one, as upstream). It reports whether anything changed.
func ensureCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) ([]batchv1.JobCondition, bool) {
	if c := findCondition(conds, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return conds, false
		}
		*c = *newCondition(t, status, reason, msg, now)
		return conds, true
	}
	if status == corev1.ConditionTrue {
		return append(conds, *newCondition(t, status, reason, msg, now)), true
	}
	return conds, false
}

func labelsEverything() labels.Selector { return labels.Everything() }

func labelsOf(p *corev1.Pod) labels.Set { return labels.Set(p.Labels) }

// completionIndex reads the pod's index annotation, -1 if absent or bad.
func completionIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 {
		return -1
	}
	return i
}

// finishedTime is when the pod finished: its last container's finish,
// else when it stopped being ready, else its deletion, else its creation
// (upstream's getFinishedTime).
func finishedTime(p *corev1.Pod) time.Time {
	var latest time.Time
	for _, s := range append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if t := s.State.Terminated; t != nil && t.FinishedAt.After(latest) {
			latest = t.FinishedAt.Time
		}
	}
	if !latest.IsZero() {
		return latest
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionFalse && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	if p.DeletionTimestamp != nil {
		return p.DeletionTimestamp.Time
	}
	return p.CreationTimestamp.Time
}
