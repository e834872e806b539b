package job

import (
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/clock"
)

// backoffRecord is, for one job, how many pods failed since the last one
// that succeeded and when the last of them finished: the delay before
// the next pod is created grows with that count (upstream's
// backoffRecord). It lives in memory, as upstream's does; after a restart
// the controller starts from the pods it still sees.
type backoffRecord struct {
	key                      string
	failuresAfterLastSuccess int32
	lastFailureTime          *time.Time
}

type backoffStore struct {
	mu sync.Mutex
	m  map[string]backoffRecord
}

func newBackoffStore() *backoffStore { return &backoffStore{m: map[string]backoffRecord{}} }

func (s *backoffStore) update(r backoffRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[r.key] = r
}

func (s *backoffStore) remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}

// next is the record after newSucceeded and newFailed pods finished.
func (s *backoffStore) next(key string, newSucceeded, newFailed []*corev1.Pod) backoffRecord {
	s.mu.Lock()
	r, ok := s.m[key]
	s.mu.Unlock()
	if !ok {
		r = backoffRecord{key: key}
	}
	byFinish := func(ps []*corev1.Pod) {
		sort.SliceStable(ps, func(i, j int) bool { return finishedTime(ps[i]).Before(finishedTime(ps[j])) })
	}
	newSucceeded = append([]*corev1.Pod(nil), newSucceeded...)
	newFailed = append([]*corev1.Pod(nil), newFailed...)
	byFinish(newSucceeded)
	byFinish(newFailed)
	if len(newFailed) == 0 && len(newSucceeded) == 0 {
		return r
	}
	if len(newSucceeded) == 0 {
		r.failuresAfterLastSuccess += int32(len(newFailed))
		t := finishedTime(newFailed[len(newFailed)-1])
		r.lastFailureTime = &t
		return r
	}
	// A success resets the count; only failures after it still count.
	r.failuresAfterLastSuccess, r.lastFailureTime = 0, nil
	lastSuccess := finishedTime(newSucceeded[len(newSucceeded)-1])
	for i := len(newFailed) - 1; i >= 0; i-- {
		t := finishedTime(newFailed[i])
		if !t.After(lastSuccess) {
			break
		}
		if r.lastFailureTime == nil {
			r.lastFailureTime = &t
		}
		r.failuresAfterLastSuccess++
	}
	return r
}

// remaining is how long pod creation must still wait.
func (r backoffRecord) remaining(clk clock.PassiveClock, base, max time.Duration) time.Duration {
	return remainingForFailures(clk, base, max, r.failuresAfterLastSuccess, r.lastFailureTime)
}

func remainingForFailures(clk clock.PassiveClock, base, max time.Duration, failures int32, last *time.Time) time.Duration {
	if failures == 0 || last == nil {
		return 0
	}
	d := base
	for i := 1; i < int(failures); i++ {
		d *= 2
		if d >= max {
			d = max
			break
		}
	}
	elapsed := clk.Since(*last)
	if d < elapsed {
		return 0
	}
	return d - elapsed
}
