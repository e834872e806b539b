package job

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// trackStatus counts the job's finished pods and writes its status, in
// upstream's order (see doc.go): new finished pods into
// uncountedTerminatedPods, then their finalizers off, then from the
// uncounted lists into the counters, then the terminal condition once
// nothing is left uncounted or terminating.
func (c *Controller) trackStatus(ctx context.Context, jc *syncCtx, needsFlush bool) error {
	job := jc.job
	indexed := isIndexed(job)
	withFinalizer := map[types.UID]bool{}
	for _, p := range jc.pods {
		if hasTrackingFinalizer(p) || c.finalizers.has(job.UID, p.UID) {
			withFinalizer[p.UID] = true
		}
	}
	if countUncountedWithoutFinalizer(&job.Status, withFinalizer) {
		needsFlush = true
	}
	u := job.Status.UncountedTerminatedPods
	var toRemove []*corev1.Pod
	var newSucceededIdx []int
	reachedMax := false
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || c.finalizers.has(job.UID, p.UID) {
			continue // counted in an earlier sync
		}
		failed := isPodFailed(p, job)
		if job.DeletionTimestamp == nil && jc.finished == nil && p.Status.Phase != corev1.PodSucceeded && !failed {
			continue // still running
		}
		toRemove = append(toRemove, p)
		ix := completionIndex(p)
		validIx := !indexed || (ix >= 0 && ix < int(*job.Spec.Completions))
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !jc.uncounted.failed[p.UID]:
			if indexed {
				// The index is the record; no UID needed.
				if validIx && !jc.prevSucceededIdx.has(ix) {
					newSucceededIdx = append(newSucceededIdx, ix)
					needsFlush = true
				}
			} else if !jc.uncounted.succeeded[p.UID] {
				u.Succeeded = append(u.Succeeded, p.UID)
				needsFlush = true
			}
		case failed || (jc.finished != nil && jc.finished.Type != batchv1.JobSuccessCriteriaMet):
			// Once the job has failed, every pod not succeeded is a failure.
			if !jc.uncounted.failed[p.UID] && validIx {
				if _, count, _ := matchPodFailurePolicy(job.Spec.PodFailurePolicy, p); count {
					u.Failed = append(u.Failed, p.UID)
					needsFlush = true
				}
			}
		}
		if len(newSucceededIdx)+len(u.Succeeded)+len(u.Failed) >= maxUncountedPods {
			reachedMax = true
			break
		}
	}
	if indexed {
		jc.succeededIdx = jc.succeededIdx.with(newSucceededIdx...)
		s := jc.succeededIdx.String()
		if s != job.Status.CompletedIndexes {
			needsFlush = true
		}
		job.Status.CompletedIndexes = s
		job.Status.Succeeded = int32(jc.succeededIdx.total())
		if hasBackoffLimitPerIndex(job) {
			f := jc.failedIdx.String()
			if job.Status.FailedIndexes == nil || *job.Status.FailedIndexes != f {
				needsFlush = true
			}
			job.Status.FailedIndexes = &f
		}
	}
	now := c.clock.Now()
	if f := jc.finished; f != nil && f.Type == batchv1.JobFailureTarget {
		// The interim condition goes in with the uncounted pods, so the
		// reason survives a crash before the final Failed is written.
		job.Status.Conditions = append(job.Status.Conditions, *f)
		needsFlush = true
		jc.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, f.Reason, f.Message, now)
	}
	if f := jc.finished; f != nil && f.Type == batchv1.JobSuccessCriteriaMet {
		if findCondition(job.Status.Conditions, batchv1.JobSuccessCriteriaMet) == nil {
			job.Status.Conditions = append(job.Status.Conditions, *f)
			needsFlush = true
		}
		jc.finished = newCondition(batchv1.JobComplete, corev1.ConditionTrue, f.Reason, f.Message, now)
	}

	if needsFlush {
		updated, err := c.updateStatus(ctx, job)
		if err != nil {
			return fmt.Errorf("adding uncounted pods to status: %w", err)
		}
		job = updated
		jc.job = updated
		needsFlush = false
	}
	var rmErr error
	if len(toRemove) > 0 {
		var ok []bool
		ok, rmErr = c.removeFinalizers(ctx, job.UID, toRemove)
		for i, p := range toRemove {
			if ok[i] {
				delete(withFinalizer, p.UID)
			}
		}
	}
	if countUncountedWithoutFinalizer(&job.Status, withFinalizer) {
		needsFlush = true
	}
	if rmErr != nil {
		// Keep what progress there is.
		if needsFlush {
			if _, err := c.updateStatus(ctx, job); err != nil {
				return fmt.Errorf("removing uncounted pods from status: %w", err)
			}
		}
		return rmErr
	}
	finished := !reachedMax && c.enactFinished(jc)
	if finished {
		needsFlush = true
	}
	if !needsFlush {
		return nil
	}
	updated, err := c.updateStatus(ctx, job)
	if err != nil {
		return fmt.Errorf("removing uncounted pods from status: %w", err)
	}
	jc.job = updated
	if finished {
		c.recordFinished(updated, jc.finished)
	}
	return nil
}

// countUncountedWithoutFinalizer moves the uncounted UIDs whose pods no
// longer carry the finalizer (or are gone) into the counters.
func countUncountedWithoutFinalizer(st *batchv1.JobStatus, withFinalizer map[types.UID]bool) bool {
	u := st.UncountedTerminatedPods
	changed := false
	keep := func(ids []types.UID, counter *int32) []types.UID {
		var out []types.UID
		for _, id := range ids {
			if withFinalizer[id] {
				out = append(out, id)
				continue
			}
			*counter++
			changed = true
		}
		return out
	}
	u.Succeeded = keep(u.Succeeded, &st.Succeeded)
	u.Failed = keep(u.Failed, &st.Failed)
	return changed
}

// enactFinished writes the terminal condition once every pod is counted
// and none is still terminating (upstream v1.31+).
func (c *Controller) enactFinished(jc *syncCtx) bool {
	f := jc.finished
	if f == nil {
		return false
	}
	job := jc.job
	if u := job.Status.UncountedTerminatedPods; u != nil && len(u.Succeeded)+len(u.Failed) > 0 {
		return false
	}
	if jc.terminating > 0 {
		return false
	}
	job.Status.Conditions, _ = ensureCondition(job.Status.Conditions, f.Type, f.Status, f.Reason, f.Message, f.LastTransitionTime.Time)
	if f.Type == batchv1.JobComplete {
		t := f.LastTransitionTime
		job.Status.CompletionTime = &t
	}
	return true
}

func (c *Controller) recordFinished(job *batchv1.Job, f *batchv1.JobCondition) {
	switch f.Type {
	case batchv1.JobComplete:
		if job.Spec.Completions != nil && job.Status.Succeeded > *job.Spec.Completions {
			c.recorder.Event(job, corev1.EventTypeWarning, "TooManySucceededPods", "Too many succeeded pods running after completion count reached")
		}
		c.recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
	case batchv1.JobFailed:
		c.recorder.Event(job, corev1.EventTypeWarning, f.Reason, f.Message)
	}
	c.log.Info("job finished", "job", job.Namespace+"/"+job.Name, "condition", f.Type, "reason", f.Reason)
}

func (c *Controller) updateStatus(ctx context.Context, job *batchv1.Job) (*batchv1.Job, error) {
	updated, err := c.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	c.written.wrote(cache.MetaObjectToName(job).String(), updated.ResourceVersion)
	if updated.Status.UncountedTerminatedPods == nil {
		updated.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	return updated, nil
}
