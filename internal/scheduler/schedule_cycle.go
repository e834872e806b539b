package scheduler

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scheduleOne takes one pod from the queue, picks its node, assumes it
// there and starts the binding; it reports false once the queue closed.
func (s *Scheduler) scheduleOne(ctx context.Context) bool {
	qp, ok := s.queue.pop()
	if !ok {
		return false
	}
	pod := qp.pod
	if !podToSchedule(pod) || s.cache.placed(pod) {
		s.queue.done(qp)
		return true
	}
	s.cache.updateSnapshot(s.snapshot)
	c := s.newCycle(pod)
	res, err := s.schedulePod(ctx, c)
	if err != nil {
		s.handleScheduleError(ctx, qp, c, err)
		return true
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = res.host
	if err := s.cache.assumePod(assumed); err != nil {
		s.handleFailure(ctx, qp, err, corev1.PodReasonSchedulerError, nil)
		return true
	}
	s.queue.nominator.remove(pod)
	s.queue.done(qp)
	s.binding.Add(1)
	go func() {
		defer s.binding.Done()
		s.bindingCycle(ctx, assumed, qp.attempts, res.host)
	}()
	return true
}

// handleScheduleError runs preemption for a pod that fits nowhere, then
// reports the failure.
func (s *Scheduler) handleScheduleError(ctx context.Context, qp *queuedPod, c *cycle, err error) {
	var fitErr *FitError
	if !errors.As(err, &fitErr) {
		s.handleFailure(ctx, qp, err, corev1.PodReasonSchedulerError, nil)
		return
	}
	nominated, msg, perr := s.preempt(ctx, c, &fitErr.Diagnosis)
	if perr != nil {
		s.log.Error("preemption failed", "pod", klogKey(qp.pod), "err", perr)
	}
	fitErr.Diagnosis.PostFilterMsg = msg
	s.handleFailure(ctx, qp, fitErr, corev1.PodReasonUnschedulable, nominated)
}

// bindingCycle binds the assumed pod; on failure it forgets the
// assumption and requeues the pod with backoff.
func (s *Scheduler) bindingCycle(ctx context.Context, assumed *corev1.Pod, attempts int, host string) {
	if err := s.bind(ctx, assumed, host); err != nil {
		s.cache.forgetPod(assumed)
		// The assumed pod held room others may have been refused for.
		s.queue.moveAll(nil)
		if ctx.Err() != nil {
			return
		}
		s.log.Info("binding failed", "pod", klogKey(assumed), "node", host, "err", err)
		orig := assumed.DeepCopy()
		orig.Spec.NodeName = ""
		s.reportFailure(ctx, orig, fmt.Errorf("binding rejected: %w", err), corev1.PodReasonSchedulerError, nil)
		if cur, err := s.podLister.Pods(orig.Namespace).Get(orig.Name); err == nil && cur.UID == orig.UID && podToSchedule(cur) {
			s.queue.readd(cur, attempts)
		}
		return
	}
	s.recorder.Eventf(assumed, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, host)
	s.log.Debug("bound", "pod", klogKey(assumed), "node", host)
}

// bindAPI posts pods/binding.
func (s *Scheduler) bindAPI(ctx context.Context, pod *corev1.Pod, node string) error {
	b := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	if err := s.client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("binding %s/%s to %s: %w", pod.Namespace, pod.Name, node, err)
	}
	return nil
}

func klogKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }
