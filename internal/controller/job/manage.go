package job

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/controller/owned"
)

// manageJob creates or deletes pods so that as many run as the job wants
// now, and returns how many are active afterwards.
func (c *Controller) manageJob(ctx context.Context, key string, jc *syncCtx) (int32, error) {
	job := jc.job
	active := int32(len(jc.active))
	parallelism := ptr.Deref(job.Spec.Parallelism, 1)

	if jobSuspended(job) {
		toDelete := podsForRemoval(job, jc.active, len(jc.active))
		c.expectations.Expect(key, 0, len(toDelete))
		removed, removedReady, err := c.deleteJobPods(ctx, key, job, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		return active - removed, err
	}

	var want int32
	if job.Spec.Completions == nil {
		// Work queue style: after one success, let the rest finish.
		want = parallelism
		if jc.succeeded > 0 {
			want = active
		}
	} else {
		want = min(*job.Spec.Completions-jc.succeeded, parallelism)
		want = max(want, 0)
	}

	toDelete := podsForRemoval(job, jc.active, int(max(active-want, 0)))
	if len(toDelete) > maxPodCreateDeletePerSync {
		toDelete = toDelete[:maxPodCreateDeletePerSync]
	}
	if len(toDelete) > 0 {
		// Deleting and creating in one sync could fight; deletions first.
		c.expectations.Expect(key, 0, len(toDelete))
		removed, removedReady, err := c.deleteJobPods(ctx, key, job, toDelete)
		jc.terminating += removed
		jc.ready -= removedReady
		return active - removed, err
	}

	var terminating int32
	if onlyReplaceFailedPods(job) {
		terminating = jc.terminating
	}
	diff := want - terminating - active
	if diff <= 0 {
		return active, nil
	}
	if !hasBackoffLimitPerIndex(job) {
		if wait := jc.backoff.remaining(c.clock, DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff); wait > 0 {
			c.queue.AddAfter(key, wait)
			return active, nil
		}
	}
	diff = min(diff, maxPodCreateDeletePerSync)
	var indexes []int
	if isIndexed(job) {
		indexes = firstPendingIndexes(jc, int(diff), int(*job.Spec.Completions))
		if hasBackoffLimitPerIndex(job) {
			var wait time.Duration
			indexes, wait = c.indexesReadyForCreation(jc, indexes)
			if wait > 0 {
				c.queue.AddAfter(key, wait)
			}
		}
		diff = int32(len(indexes))
	}
	if diff == 0 {
		return active, nil
	}

	template := job.Spec.Template.DeepCopy()
	if isIndexed(job) {
		addCompletionIndexEnv(template)
	}
	if !containsString(template.Finalizers, batchv1.JobTrackingFinalizer) {
		template.Finalizers = append(template.Finalizers, batchv1.JobTrackingFinalizer)
	}

	c.expectations.Expect(key, int(diff), 0)
	var created atomic.Int32
	var firstErr error
	var errOnce sync.Once
	// Slow start, as upstream: batches of 1, 2, 4, ... so that a failing
	// template costs one API call, not hundreds.
	next := 0
	for batch := int32(1); next < int(diff); batch = min(batch*2, diff-int32(next)) {
		var wg sync.WaitGroup
		var failed atomic.Bool
		for i := 0; i < int(batch) && next < int(diff); i++ {
			n := next
			next++
			wg.Add(1)
			go func() {
				defer wg.Done()
				pod := c.podFor(job, template, jc, indexes, n)
				if err := c.createPod(ctx, job, pod); err != nil {
					c.expectations.CreationObserved(key) // it will never be seen
					failed.Store(true)
					errOnce.Do(func() { firstErr = err })
					return
				}
				created.Add(1)
			}()
		}
		wg.Wait()
		if failed.Load() {
			// Skipped creations will not be seen either.
			for ; next < int(diff); next++ {
				c.expectations.CreationObserved(key)
			}
			break
		}
	}
	return active + created.Load(), firstErr
}

// podFor is the n-th pod to create in this sync.
func (c *Controller) podFor(job *batchv1.Job, template *corev1.PodTemplateSpec, jc *syncCtx, indexes []int, n int) *corev1.Pod {
	t := template
	if isIndexed(job) {
		ix := indexes[n]
		t = template.DeepCopy()
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		if t.Labels == nil {
			t.Labels = map[string]string{}
		}
		t.Annotations[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
		t.Labels[batchv1.JobCompletionIndexAnnotation] = strconv.Itoa(ix)
		t.Spec.Hostname = fmt.Sprintf("%s-%d", job.Name, ix)
		if hasBackoffLimitPerIndex(job) {
			failures, ignored := nextIndexFailureCount(job, jc.lastFailedPerIdx[ix])
			t.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(failures)
			if ignored > 0 {
				t.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation] = strconv.Itoa(ignored)
			}
		}
	}
	pod := owned.PodFromTemplate(t, job, controllerKind)
	if isIndexed(job) {
		pod.GenerateName = generateNameWithIndex(job.Name, indexes[n])
	}
	return pod
}

// generateNameWithIndex is "<job>-<index>-", the job name cut so the
// generated name stays valid (upstream's podGenerateNameWithIndex).
func generateNameWithIndex(jobName string, ix int) string {
	const randomLength = 5
	appendix := "-" + strconv.Itoa(ix) + "-"
	prefix := jobName + appendix
	if max := validation.DNS1123SubdomainMaxLength - randomLength; len(prefix) > max {
		prefix = prefix[:max-len(appendix)] + appendix
	}
	return prefix
}

func (c *Controller) createPod(ctx context.Context, job *batchv1.Job, pod *corev1.Pod) error {
	got, err := c.client.CoreV1().Pods(job.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // everything will be deleted anyway
		}
		c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
		return fmt.Errorf("creating pod for job %s/%s: %w", job.Namespace, job.Name, err)
	}
	c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", got.Name)
	return nil
}

// addCompletionIndexEnv gives every container JOB_COMPLETION_INDEX from
// the pod's index annotation, as upstream's controller does.
func addCompletionIndexEnv(t *corev1.PodTemplateSpec) {
	add := func(cs []corev1.Container) {
		for i := range cs {
			found := false
			for _, e := range cs[i].Env {
				if e.Name == "JOB_COMPLETION_INDEX" {
					found = true
				}
			}
			if !found {
				cs[i].Env = append(cs[i].Env, corev1.EnvVar{
					Name: "JOB_COMPLETION_INDEX",
					ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
						FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation),
					}},
				})
			}
		}
	}
	add(t.Spec.InitContainers)
	add(t.Spec.Containers)
}

// deleteJobPods deletes pods the job no longer wants (suspension, too
// many): their finalizer goes first, so they are not counted as failures.
// It returns how many were deleted and how many of those were ready.
func (c *Controller) deleteJobPods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.deletePods(ctx, key, job, pods, true)
}

// deleteActivePods deletes the pods of a job that has finished; the
// finalizers stay, so that trackStatus counts them.
func (c *Controller) deleteActivePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) (int32, int32, error) {
	return c.deletePods(ctx, "", job, pods, false)
}

func (c *Controller) deletePods(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod, dropFinalizer bool) (int32, int32, error) {
	var deleted, deletedReady atomic.Int32
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := func() error {
				if dropFinalizer && hasTrackingFinalizer(p) {
					if err := c.removeFinalizer(ctx, p); err != nil {
						return err
					}
				}
				err := c.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{})
				if err != nil && !apierrors.IsNotFound(err) {
					c.recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
					return fmt.Errorf("deleting pod %s/%s: %w", p.Namespace, p.Name, err)
				}
				if err == nil {
					c.recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
				}
				return nil
			}()
			if err != nil {
				if key != "" {
					c.expectations.DeletionObserved(key)
				}
				errs[i] = err
				return
			}
			deleted.Add(1)
			if isReady(p) {
				deletedReady.Add(1)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return deleted.Load(), deletedReady.Load(), err
		}
	}
	return deleted.Load(), deletedReady.Load(), nil
}

// podsForRemoval picks n active pods to delete: for Indexed jobs, first
// those with a bad or repeated index; then the least advanced (unready,
// pending, newest) as upstream's ActivePods ordering.
func podsForRemoval(job *batchv1.Job, active []*corev1.Pod, n int) []*corev1.Pod {
	var out, rest []*corev1.Pod
	if isIndexed(job) {
		seen := map[int]bool{}
		for _, p := range sortedForRemoval(active) {
			ix := completionIndex(p)
			if ix < 0 || ix >= int(*job.Spec.Completions) || seen[ix] {
				out = append(out, p)
				continue
			}
			seen[ix] = true
			rest = append(rest, p)
		}
		n = max(n-len(out), 0)
	} else {
		rest = active
	}
	rest = sortedForRemoval(rest)
	return append(out, rest[:min(n, len(rest))]...)
}

func sortedForRemoval(pods []*corev1.Pod) []*corev1.Pod {
	out := append([]*corev1.Pod(nil), pods...)
	rank := func(p *corev1.Pod) int {
		switch {
		case p.Spec.NodeName == "":
			return 0
		case p.Status.Phase == corev1.PodPending:
			return 1
		case !isReady(p):
			return 2
		}
		return 3
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ri, rj := rank(out[i]), rank(out[j]); ri != rj {
			return ri < rj
		}
		return out[i].CreationTimestamp.After(out[j].CreationTimestamp.Time)
	})
	return out
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
