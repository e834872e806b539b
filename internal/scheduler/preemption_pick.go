package scheduler

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// startTime is when a pod started; pods not started yet count as
// starting now, as upstream.
func startTime(p *corev1.Pod, now time.Time) time.Time {
	if p.Status.StartTime != nil {
		return p.Status.StartTime.Time
	}
	return now
}

// moreImportant is upstream's MoreImportantPod: higher priority, then
// earlier start.
func moreImportant(a, b *corev1.Pod, now time.Time) bool {
	pa, pb := corev1helpers.PodPriority(a), corev1helpers.PodPriority(b)
	if pa != pb {
		return pa > pb
	}
	return startTime(a, now).Before(startTime(b, now))
}

// pickOneNodeForPreemption applies upstream's criteria in turn, each
// narrowing the candidates: a node needing no eviction; the fewest
// PodDisruptionBudget violations; the lowest highest-priority victim;
// the smallest sum of victim priorities; the fewest victims; the latest
// start among the most important victims.
func pickOneNodeForPreemption(cands []candidate) candidate {
	for _, c := range cands {
		if len(c.victims) == 0 {
			return c
		}
	}
	now := time.Now()
	keep := func(cs []candidate, score func(candidate) int64) []candidate {
		best := int64(math.MinInt64)
		var out []candidate
		for _, c := range cs {
			switch s := score(c); {
			case s > best:
				best, out = s, []candidate{c}
			case s == best:
				out = append(out, c)
			}
		}
		return out
	}
	criteria := []func(candidate) int64{
		func(c candidate) int64 { return -int64(c.pdbViolations) },
		func(c candidate) int64 { return -int64(corev1helpers.PodPriority(c.victims[0])) },
		func(c candidate) int64 {
			var sum int64
			for _, v := range c.victims {
				// Shifted so that negative priorities still add up.
				sum += int64(corev1helpers.PodPriority(v)) + math.MaxInt32 + 1
			}
			return -sum
		},
		func(c candidate) int64 { return -int64(len(c.victims)) },
		func(c candidate) int64 { return earliestStart(c.victims, now).UnixNano() },
	}
	for _, crit := range criteria {
		cands = keep(cands, crit)
		if len(cands) == 1 {
			break
		}
	}
	return cands[0]
}

// earliestStart is the earliest start among the highest-priority
// victims.
func earliestStart(victims []*corev1.Pod, now time.Time) time.Time {
	top := corev1helpers.PodPriority(victims[0])
	earliest := startTime(victims[0], now)
	for _, v := range victims[1:] {
		if corev1helpers.PodPriority(v) == top {
			if t := startTime(v, now); t.Before(earliest) {
				earliest = t
			}
		}
	}
	return earliest
}

// prepareCandidate evicts the victims as upstream: each gets the
// DisruptionTarget condition (reason PreemptionByScheduler), is deleted,
// and a Preempted event; lower-priority pods nominated to the node lose
// their nomination, since the room is now the preemptor's.
func (s *Scheduler) prepareCandidate(ctx context.Context, c candidate, pod *corev1.Pod) error {
	for _, v := range c.victims {
		if v.DeletionTimestamp != nil {
			continue
		}
		cond := corev1.PodCondition{
			Type:    corev1.DisruptionTarget,
			Status:  corev1.ConditionTrue,
			Reason:  corev1.PodReasonPreemptionByScheduler,
			Message: fmt.Sprintf("%s: preempting to accommodate a higher priority pod", pod.Spec.SchedulerName),
		}
		if err := s.updatePodStatus(ctx, v, &cond, nil); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("marking victim %s/%s: %w", v.Namespace, v.Name, err)
		}
		if err := s.client.CoreV1().Pods(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("deleting victim %s/%s: %w", v.Namespace, v.Name, err)
		}
		s.log.Info("preempted pod", "victim", klogKey(v), "preemptor", klogKey(pod), "node", c.node)
		s.recorder.Eventf(v, corev1.EventTypeNormal, "Preempted", "Preempted by pod %v on node %v", pod.UID, c.node)
	}
	none := ""
	for _, p := range s.queue.nominator.lowerPriorityOn(c.node, pod) {
		s.queue.nominator.remove(p)
		if err := s.updatePodStatus(ctx, p, nil, &none); err != nil && !apierrors.IsNotFound(err) {
			s.log.Error("clearing nominated node", "pod", klogKey(p), "err", err)
		}
	}
	return nil
}
