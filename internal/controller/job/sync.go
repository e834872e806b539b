package job

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/controller/owned"
)

// syncCtx is what one sync of one job works from.
type syncCtx struct {
	job       *batchv1.Job
	pods      []*corev1.Pod
	active    []*corev1.Pod
	succeeded int32
	failed    int32
	ready     int32
	// terminating counts pods being deleted but not terminal.
	terminating    int32
	terminatingIdx map[int]bool
	uncounted      uncounted
	finished       *batchv1.JobCondition
	backoff        backoffRecord

	prevSucceededIdx, succeededIdx indexSet
	failedIdx                      indexSet
	lastFailedPerIdx               map[int]*corev1.Pod
}

// uncounted is status.uncountedTerminatedPods as sets.
type uncounted struct{ succeeded, failed map[types.UID]bool }

func newUncounted(u *batchv1.UncountedTerminatedPods) uncounted {
	out := uncounted{succeeded: map[types.UID]bool{}, failed: map[types.UID]bool{}}
	if u == nil {
		return out
	}
	for _, id := range u.Succeeded {
		out.succeeded[id] = true
	}
	for _, id := range u.Failed {
		out.failed[id] = true
	}
	return out
}

// sync brings one job's pods and status in line with its spec.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	shared, err := c.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.Delete(key)
		c.backoff.remove(key)
		c.written.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	if c.written.stale(key, shared.ResourceVersion) {
		return nil // our last write is on its way; its event syncs again
	}
	if shared.Spec.ManagedBy != nil && *shared.Spec.ManagedBy != jobControllerName {
		return nil // another controller runs this job
	}
	if jobFinished(shared) {
		c.backoff.remove(key)
		return nil
	}
	if shared.Spec.Selector == nil || shared.Spec.Template.Spec.RestartPolicy == "" {
		return nil // not defaulted: not from an API we understand
	}
	job := shared.DeepCopy()
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}

	// Expectations first: a pod created after this check is seen on the
	// next sync, never half-seen in this one.
	satisfied := c.expectations.Satisfied(key)
	pods, err := c.podsForJob(ctx, job)
	if err != nil {
		return err
	}
	jc := &syncCtx{job: job, pods: pods, uncounted: newUncounted(job.Status.UncountedTerminatedPods)}
	for _, p := range pods {
		if isActive(p) {
			jc.active = append(jc.active, p)
			if isReady(p) {
				jc.ready++
			}
		}
		if isTerminating(p) {
			jc.terminating++
		}
	}
	newSucceeded, newFailed := c.newFinishedPods(jc)
	jc.succeeded = job.Status.Succeeded + int32(len(newSucceeded)) + int32(len(jc.uncounted.succeeded))
	jc.failed = job.Status.Failed + int32(countedFailures(job, newFailed)) + int32(len(jc.uncounted.failed))
	jc.backoff = c.backoff.next(key, newSucceeded, newFailed)

	now := c.clock.Now()
	startChanged := false
	if job.Status.StartTime == nil && !jobSuspended(job) {
		job.Status.StartTime = ptr.To(metav1.NewTime(now))
		startChanged = true
	}

	c.decideFailure(key, jc, now)
	if isIndexed(job) {
		c.indexedOutcome(jc, now)
	}

	var manageErr error
	suspendChanged := false
	active := int32(len(jc.active))
	if jc.finished != nil {
		deleted, deletedReady, err := c.deleteActivePods(ctx, job, jc.active)
		if int(deleted) != len(jc.active) || !satisfied {
			// Pods may remain, or be missing from the cache: not done yet.
			jc.finished = nil
		}
		active -= deleted
		jc.terminating += deleted
		jc.ready -= deletedReady
		manageErr = err
	} else {
		managed := false
		if satisfied && job.DeletionTimestamp == nil {
			active, manageErr = c.manageJob(ctx, key, jc)
			managed = true
		}
		complete := false
		if job.Spec.Completions == nil {
			// Without completions the first success means done, once the
			// rest has stopped.
			complete = jc.succeeded > 0 && active == 0
		} else {
			complete = jc.succeeded >= *job.Spec.Completions && active == 0
		}
		if complete {
			jc.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletionsReached, msgCompletionsReached, now)
		} else if managed {
			suspendChanged = c.recordSuspension(job, now)
			if jobSuspended(job) && active == 0 && job.Status.StartTime != nil {
				// A suspended job is not running: its clock (and
				// activeDeadlineSeconds) starts again on resume.
				job.Status.StartTime = nil
				suspendChanged = true
			}
		}
	}

	changed := suspendChanged || active != job.Status.Active ||
		!ptr.Equal(ptr.To(jc.ready), job.Status.Ready) || !ptr.Equal(ptr.To(jc.terminating), job.Status.Terminating) ||
		startChanged || shared.Status.UncountedTerminatedPods == nil
	job.Status.Active = active
	job.Status.Ready = ptr.To(jc.ready)
	job.Status.Terminating = ptr.To(jc.terminating)
	if err := c.trackStatus(ctx, jc, changed); err != nil {
		return fmt.Errorf("tracking status of job %s: %w", key, err)
	}
	if manageErr != nil {
		return manageErr
	}
	c.backoff.update(jc.backoff)
	return nil
}

// decideFailure sets jc.finished when the job has failed: earlier
// FailureTarget, a FailJob rule, backoff limit, or deadline; otherwise it
// wakes the job again when its deadline passes.
func (c *Controller) decideFailure(key string, jc *syncCtx, now time.Time) {
	job := jc.job
	if ft := findCondition(job.Status.Conditions, batchv1.JobFailureTarget); ft != nil && ft.Status == corev1.ConditionTrue {
		jc.finished = newCondition(batchv1.JobFailed, corev1.ConditionTrue, ft.Reason, ft.Message, now)
		return
	}
	if msg := failJobMessage(job, jc.pods); msg != nil {
		jc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, *msg, now)
		return
	}
	backoffLimit := ptr.Deref(job.Spec.BackoffLimit, 6)
	// With backoffLimitPerIndex the API defaults backoffLimit to MaxInt32.
	exceeds := jc.failed > backoffLimit
	switch {
	case exceeds || pastBackoffLimitOnFailure(job, jc.pods):
		jc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, reasonBackoffLimit, msgBackoffLimit, now)
	case c.pastActiveDeadline(job):
		jc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, reasonDeadline, msgDeadline, now)
	case job.Spec.ActiveDeadlineSeconds != nil && !jobSuspended(job) && job.Status.StartTime != nil:
		left := time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second - c.clock.Since(job.Status.StartTime.Time)
		c.queue.AddAfter(key, left)
	}
}

// indexedOutcome works out the indexes of an Indexed job and whether they
// decide the job (failed indexes, success policy).
func (c *Controller) indexedOutcome(jc *syncCtx, now time.Time) {
	job := jc.job
	completions := int(*job.Spec.Completions)
	jc.prevSucceededIdx, jc.succeededIdx = succeededIndexes(job, jc.pods)
	jc.succeeded = int32(jc.succeededIdx.total())
	jc.terminatingIdx = map[int]bool{}
	for _, p := range jc.pods {
		if isTerminating(p) {
			jc.terminatingIdx[completionIndex(p)] = true
		}
	}
	if hasBackoffLimitPerIndex(job) {
		jc.failedIdx = failedIndexes(job, jc.pods)
		jc.lastFailedPerIdx = lastFailedPerIndex(job, jc.pods)
		if jc.finished == nil {
			failed := jc.failedIdx.total()
			switch {
			case job.Spec.MaxFailedIndexes != nil && failed > int(*job.Spec.MaxFailedIndexes):
				jc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonMaxFailedIndexesExceeded,
					"Job has exceeded the specified maximal number of failed indexes", now)
			case failed > 0 && failed+jc.succeededIdx.total() >= completions:
				jc.finished = newCondition(batchv1.JobFailureTarget, corev1.ConditionTrue, batchv1.JobReasonFailedIndexes,
					"Job has failed indexes", now)
			}
		}
	}
	if jc.finished == nil {
		if msg, met := matchSuccessPolicy(job.Spec.SuccessPolicy, completions, jc.succeededIdx); met {
			jc.finished = newCondition(batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, batchv1.JobReasonSuccessPolicy, msg, now)
		}
	}
}

// recordSuspension keeps the Suspended condition in step with
// spec.suspend; a resumed job's startTime restarts, so that
// activeDeadlineSeconds counts only time spent active (upstream).
func (c *Controller) recordSuspension(job *batchv1.Job, now time.Time) bool {
	var changed bool
	if jobSuspended(job) {
		job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now)
		if changed {
			c.recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		return changed
	}
	job.Status.Conditions, changed = ensureCondition(job.Status.Conditions, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
	if changed {
		c.recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
		job.Status.StartTime = ptr.To(metav1.NewTime(now))
	}
	return changed
}

func (c *Controller) pastActiveDeadline(job *batchv1.Job) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || job.Status.StartTime == nil || jobSuspended(job) {
		return false
	}
	return c.clock.Since(job.Status.StartTime.Time) >= time.Duration(*job.Spec.ActiveDeadlineSeconds)*time.Second
}

// pastBackoffLimitOnFailure: with restartPolicy OnFailure the kubelet
// restarts failed containers in place, so failures show only as restart
// counts of running pods; upstream fails the job on their sum.
func pastBackoffLimitOnFailure(job *batchv1.Job, pods []*corev1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		return false
	}
	var restarts int32
	for _, p := range pods {
		if p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodPending {
			for _, s := range p.Status.InitContainerStatuses {
				restarts += s.RestartCount
			}
			for _, s := range p.Status.ContainerStatuses {
				restarts += s.RestartCount
			}
		}
	}
	limit := ptr.Deref(job.Spec.BackoffLimit, 6)
	if limit == 0 {
		return restarts > 0
	}
	return restarts >= limit
}

// newFinishedPods are the finished pods still carrying the finalizer and
// not yet in the uncounted lists.
func (c *Controller) newFinishedPods(jc *syncCtx) (succeeded, failed []*corev1.Pod) {
	for _, p := range jc.pods {
		if !hasTrackingFinalizer(p) || c.finalizers.has(jc.job.UID, p.UID) {
			continue
		}
		if isIndexed(jc.job) {
			if ix := completionIndex(p); ix < 0 || ix >= int(*jc.job.Spec.Completions) {
				continue
			}
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded && !jc.uncounted.succeeded[p.UID]:
			succeeded = append(succeeded, p)
		case isPodFailed(p, jc.job) && !jc.uncounted.failed[p.UID]:
			failed = append(failed, p)
		}
	}
	return succeeded, failed
}

// podsForJob lists the pods the job's selector matches and claims them
// (adopting orphans, releasing those that stopped matching).
func (c *Controller) podsForJob(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("job %s/%s has a bad selector: %w", job.Namespace, job.Name, err)
	}
	all, err := c.podLister.Pods(job.Namespace).List(labelsEverything())
	if err != nil {
		return nil, err
	}
	claimer := &owned.Claimer{
		Controller: job,
		Kind:       controllerKind,
		Selector:   sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: owned.RecheckDeletion(job, func(ctx context.Context) (metav1.Object, error) {
			return c.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
		}),
	}
	ours := map[types.UID]bool{}
	for _, p := range all {
		if metav1.IsControlledBy(p, job) {
			ours[p.UID] = true
		}
	}
	pods, err := owned.Claim(ctx, claimer, all)
	if err != nil {
		return nil, err
	}
	// Adopted pods are tracked like our own: upstream adds the finalizer
	// with the owner reference.
	for i, p := range pods {
		if ours[p.UID] || hasTrackingFinalizer(p) {
			continue
		}
		if _, err := c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, addFinalizerPatch, metav1.PatchOptions{}); err != nil {
			return nil, fmt.Errorf("adding tracking finalizer to adopted pod %s/%s: %w", p.Namespace, p.Name, err)
		}
		pods[i] = p.DeepCopy()
		pods[i].Finalizers = append(pods[i].Finalizers, batchv1.JobTrackingFinalizer)
	}
	return pods, nil
}
