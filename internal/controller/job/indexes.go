package job

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// indexSet is a sorted set of completion indexes. Upstream keeps
// intervals; completions of an Indexed job are bounded (100 000 by
// validation), so a sorted slice is small enough and simpler.
type indexSet []int

// parseIndexes reads status.completedIndexes / failedIndexes ("1,3-5"),
// dropping what is out of [0, completions).
func parseIndexes(s string, completions int) indexSet {
	var out indexSet
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := max(first, 0); i <= last && i < completions; i++ {
			out = append(out, i)
		}
	}
	return out.normalize()
}

func (s indexSet) normalize() indexSet {
	sort.Ints(s)
	return slices.Compact(s)
}

func (s indexSet) has(i int) bool {
	_, ok := slices.BinarySearch(s, i)
	return ok
}

func (s indexSet) total() int { return len(s) }

// with returns the union of s and more.
func (s indexSet) with(more ...int) indexSet {
	return append(append(indexSet(nil), s...), more...).normalize()
}

// String is upstream's compressed form: runs of three or more as "a-b",
// pairs as "a,b".
func (s indexSet) String() string {
	var b strings.Builder
	for i := 0; i < len(s); {
		j := i
		for j+1 < len(s) && s[j+1] == s[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		switch j - i {
		case 0:
			fmt.Fprintf(&b, "%d", s[i])
		case 1:
			fmt.Fprintf(&b, "%d,%d", s[i], s[j])
		default:
			fmt.Fprintf(&b, "%d-%d", s[i], s[j])
		}
		i = j + 1
	}
	return b.String()
}

// succeededIndexes returns the indexes recorded in status and those plus
// the indexes of succeeded pods not yet counted (still with finalizer).
func succeededIndexes(j *batchv1.Job, pods []*corev1.Pod) (prev, cur indexSet) {
	completions := int(*j.Spec.Completions)
	prev = parseIndexes(j.Status.CompletedIndexes, completions)
	var more []int
	for _, p := range pods {
		ix := completionIndex(p)
		if p.Status.Phase == corev1.PodSucceeded && ix >= 0 && ix < completions && hasTrackingFinalizer(p) {
			more = append(more, ix)
		}
	}
	return prev, prev.with(more...)
}

// failedIndexes (backoffLimitPerIndex) returns the indexes recorded as
// failed plus those of pods that just failed their index.
func failedIndexes(j *batchv1.Job, pods []*corev1.Pod) indexSet {
	completions := int(*j.Spec.Completions)
	var prev indexSet
	if j.Status.FailedIndexes != nil {
		prev = parseIndexes(*j.Status.FailedIndexes, completions)
	}
	var more []int
	for _, p := range pods {
		ix := completionIndex(p)
		if ix < 0 || ix >= completions || !hasTrackingFinalizer(p) || !isPodFailed(p, j) {
			continue
		}
		if indexFailed(j, p) {
			more = append(more, ix)
		}
	}
	return prev.with(more...)
}

// indexFailed: the failed pod ends its index, either by a FailIndex rule
// or by exhausting the index's backoff limit.
func indexFailed(j *batchv1.Job, p *corev1.Pod) bool {
	_, count, action := matchPodFailurePolicy(j.Spec.PodFailurePolicy, p)
	if action != nil && *action == batchv1.PodFailurePolicyActionFailIndex {
		return true
	}
	if !count {
		return false
	}
	return int32(indexFailureCount(p))+1 > *j.Spec.BackoffLimitPerIndex
}

func indexFailureCount(p *corev1.Pod) int {
	v, err := strconv.Atoi(p.Annotations[batchv1.JobIndexFailureCountAnnotation])
	if err != nil || v < 0 {
		return 0
	}
	return v
}

// firstPendingIndexes returns up to count indexes below completions that
// are neither done, failed nor running, smallest first.
func firstPendingIndexes(jc *syncCtx, count, completions int) []int {
	busy := map[int]bool{}
	for _, p := range jc.active {
		if ix := completionIndex(p); ix >= 0 {
			busy[ix] = true
		}
	}
	var out []int
	for ix := 0; ix < completions && len(out) < count; ix++ {
		if busy[ix] || jc.succeededIdx.has(ix) || jc.failedIdx.has(ix) {
			continue
		}
		if jc.terminatingIdx[ix] && onlyReplaceFailedPods(jc.job) {
			continue // the old pod of this index is still going away
		}
		out = append(out, ix)
	}
	return out
}

// lastFailedPerIndex is, per index, the newest failed pod still carrying
// the finalizer: its failure count and finish time decide the next pod's
// count and delay (backoffLimitPerIndex).
func lastFailedPerIndex(j *batchv1.Job, pods []*corev1.Pod) map[int]*corev1.Pod {
	out := map[int]*corev1.Pod{}
	completions := int(*j.Spec.Completions)
	for _, p := range pods {
		ix := completionIndex(p)
		if ix < 0 || ix >= completions || !isPodFailed(p, j) {
			continue
		}
		if q, ok := out[ix]; !ok || indexFailureCount(p) > indexFailureCount(q) ||
			(indexFailureCount(p) == indexFailureCount(q) && finishedTime(p).After(finishedTime(q))) {
			out[ix] = p
		}
	}
	return out
}

// nextIndexFailureCount is the failure count annotation of the pod that
// replaces last: one more unless the failure was ignored by policy.
func nextIndexFailureCount(j *batchv1.Job, last *corev1.Pod) (failures, ignored int) {
	if last == nil {
		return 0, 0
	}
	failures = indexFailureCount(last)
	ignored, _ = strconv.Atoi(last.Annotations[batchv1.JobIndexIgnoredFailureCountAnnotation])
	if _, count, _ := matchPodFailurePolicy(j.Spec.PodFailurePolicy, last); count {
		failures++
	} else {
		ignored++
	}
	return failures, ignored
}

// indexesReadyForCreation keeps the indexes whose own backoff has passed
// (backoffLimitPerIndex: each index backs off on its own failures) and
// returns the shortest wait among the others.
func (c *Controller) indexesReadyForCreation(jc *syncCtx, indexes []int) ([]int, time.Duration) {
	var ready []int
	var wait time.Duration
	for _, ix := range indexes {
		last := jc.lastFailedPerIdx[ix]
		if last == nil {
			ready = append(ready, ix)
			continue
		}
		failures, ignored := nextIndexFailureCount(jc.job, last)
		t := finishedTime(last)
		left := remainingForFailures(c.clock, DefaultJobPodFailureBackOff, MaxJobPodFailureBackOff, int32(failures+ignored), &t)
		if left <= 0 {
			ready = append(ready, ix)
			continue
		}
		if wait == 0 || left < wait {
			wait = left
		}
	}
	return ready, wait
}
