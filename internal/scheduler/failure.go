package scheduler

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
)

// maxEventMessage is the longest event message upstream records.
const maxEventMessage = 1024

// handleFailure requeues a pod whose cycle failed (unless it was deleted
// or bound meanwhile), records its nomination, and tells the user.
func (s *Scheduler) handleFailure(ctx context.Context, qp *queuedPod, err error, reason string, nominated *string) {
	pod := qp.pod
	cur, gerr := s.podLister.Pods(pod.Namespace).Get(pod.Name)
	switch {
	case gerr != nil || cur.UID != pod.UID || !podToSchedule(cur):
		s.queue.done(qp)
	default:
		s.queue.requeueFailed(qp, cur, reason == corev1.PodReasonUnschedulable)
		pod = cur
	}
	if nominated != nil {
		s.queue.nominator.add(pod, *nominated)
	}
	s.reportFailure(ctx, pod, err, reason, nominated)
}

// reportFailure records the FailedScheduling event and sets
// PodScheduled=False (and the nominated node, when preemption chose one)
// on the pod, as upstream.
func (s *Scheduler) reportFailure(ctx context.Context, pod *corev1.Pod, err error, reason string, nominated *string) {
	msg := err.Error()
	s.log.Debug("unable to schedule pod", "pod", klogKey(pod), "reason", reason, "message", msg)
	s.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", truncate(msg))
	cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
	if perr := s.updatePodStatus(ctx, pod, &cond, nominated); perr != nil {
		s.log.Error("updating pod status", "pod", klogKey(pod), "err", perr)
	}
}

func truncate(msg string) string {
	const suffix = " ..."
	if len(msg) <= maxEventMessage {
		return msg
	}
	return msg[:maxEventMessage-len(suffix)] + suffix
}

// updatePodStatus patches the pod's status with cond (if it changes
// anything) and nominatedNodeName (if given and different).
func (s *Scheduler) updatePodStatus(ctx context.Context, pod *corev1.Pod, cond *corev1.PodCondition, nominated *string) error {
	status := pod.Status.DeepCopy()
	changed := false
	if cond != nil {
		changed = setPodCondition(status, cond, metav1.NewTime(s.clock.Now()))
	}
	if nominated != nil && status.NominatedNodeName != *nominated {
		status.NominatedNodeName = *nominated
		changed = true
	}
	if !changed {
		return nil
	}
	return patchPodStatus(ctx, s.client, pod, &pod.Status, status)
}

// setPodCondition is upstream's UpdatePodCondition: the transition time
// moves only when the condition's status does; it reports whether
// anything changed.
func setPodCondition(status *corev1.PodStatus, cond *corev1.PodCondition, now metav1.Time) bool {
	cond.LastTransitionTime = now
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != cond.Type {
			continue
		}
		if cond.Status == old.Status {
			cond.LastTransitionTime = old.LastTransitionTime
		}
		same := cond.Status == old.Status && cond.Reason == old.Reason && cond.Message == old.Message &&
			cond.LastProbeTime.Equal(&old.LastProbeTime) && cond.LastTransitionTime.Equal(&old.LastTransitionTime)
		status.Conditions[i] = *cond
		return !same
	}
	status.Conditions = append(status.Conditions, *cond)
	return true
}

// patchPodStatus sends the difference between two statuses as a
// strategic merge patch of pods/status (conditions merge by type), so
// that it never overwrites what the kubelet wrote meanwhile.
func patchPodStatus(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, oldStatus, newStatus *corev1.PodStatus) error {
	oldData, err := json.Marshal(corev1.Pod{Status: *oldStatus})
	if err != nil {
		return fmt.Errorf("encoding pod status: %w", err)
	}
	newData, err := json.Marshal(corev1.Pod{Status: *newStatus})
	if err != nil {
		return fmt.Errorf("encoding pod status: %w", err)
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldData, newData, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("computing pod status patch: %w", err)
	}
	if string(patch) == "{}" {
		return nil
	}
	err = retry.OnError(retry.DefaultBackoff, retriable, func() error {
		_, err := client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
		return err
	})
	if err != nil {
		return fmt.Errorf("patching status of pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

func retriable(err error) bool {
	return apierrors.IsInternalError(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err)
}
