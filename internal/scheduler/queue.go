package scheduler

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/utils/clock"
)

// Queue timings, as upstream's defaults.
const (
	initialBackoff = 1 * time.Second
	maxBackoff     = 10 * time.Second
	// A pod parked as unschedulable longer than this is retried even if
	// no event suggested it might now fit.
	maxInUnschedulable      = 5 * time.Minute
	backoffFlushPeriod      = 1 * time.Second
	unschedulableFlushPerod = 30 * time.Second
)

// where a queued pod currently is.
type where int

const (
	inNone where = iota
	inActive
	inBackoff
	inUnschedulable
	inFlight // popped, being scheduled
)

// queuedPod is a pod waiting to be scheduled, with what the queue needs
// to order and back it off.
type queuedPod struct {
	pod *corev1.Pod
	// timestamp is when the pod last entered the queue: activeQ orders
	// equal priorities by it, backoff counts from it.
	timestamp time.Time
	// attempts counts scheduling attempts; backoff doubles with each.
	attempts int
	where    where
	index    int
	// movedWhileInFlight: a cluster event or an update of the pod came
	// while it was being scheduled; a failure then retries it (after
	// backoff) instead of parking it, since the event may have helped.
	movedWhileInFlight bool
}

// queue is upstream's PriorityQueue: activeQ holds pods ready to be tried,
// highest priority first and then oldest; backoffQ holds pods that failed
// recently, until their backoff (1 s doubling up to 10 s per attempt)
// expires; unschedulable holds pods that fit nowhere, until a cluster
// event that could change that (a node added or changed, a pod deleted...)
// moves them back, or they have waited five minutes.
type queue struct {
	clock clock.WithTicker

	mu            sync.Mutex
	cond          *sync.Cond
	pods          map[types.UID]*queuedPod
	active        *podHeap
	backoff       *podHeap
	unschedulable map[types.UID]*queuedPod
	inflight      map[types.UID]*queuedPod
	closed        bool

	nominator *nominator
}

func newQueue(clk clock.WithTicker) *queue {
	q := &queue{
		clock:         clk,
		pods:          map[types.UID]*queuedPod{},
		unschedulable: map[types.UID]*queuedPod{},
		inflight:      map[types.UID]*queuedPod{},
		nominator:     newNominator(),
	}
	q.cond = sync.NewCond(&q.mu)
	q.active = &podHeap{less: func(a, b *queuedPod) bool {
		pa, pb := corev1helpers.PodPriority(a.pod), corev1helpers.PodPriority(b.pod)
		return pa > pb || (pa == pb && a.timestamp.Before(b.timestamp))
	}}
	q.backoff = &podHeap{less: func(a, b *queuedPod) bool {
		return q.backoffExpiry(a).Before(q.backoffExpiry(b))
	}}
	return q
}

func backoffDuration(attempts int) time.Duration {
	d := initialBackoff
	for i := 1; i < attempts; i++ {
		d *= 2
		if d >= maxBackoff {
			return maxBackoff
		}
	}
	return d
}

func (q *queue) backoffExpiry(p *queuedPod) time.Time {
	return p.timestamp.Add(backoffDuration(p.attempts))
}

func (q *queue) backingOff(p *queuedPod) bool {
	return p.attempts > 0 && q.backoffExpiry(p).After(q.clock.Now())
}

// add queues a new pending pod (or one seen again after a relist).
func (q *queue) add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p, ok := q.pods[pod.UID]; ok {
		q.updateLocked(p, pod)
		return
	}
	p := &queuedPod{pod: pod, timestamp: q.clock.Now()}
	q.pods[pod.UID] = p
	q.moveLocked(p, inActive)
	q.nominator.addFromStatus(pod)
}

// update takes a newer version of a pending pod.
func (q *queue) update(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	p, ok := q.pods[pod.UID]
	if !ok {
		p = &queuedPod{pod: pod, timestamp: q.clock.Now()}
		q.pods[pod.UID] = p
		q.moveLocked(p, inActive)
		q.nominator.addFromStatus(pod)
		return
	}
	q.updateLocked(p, pod)
}

func (q *queue) updateLocked(p *queuedPod, pod *corev1.Pod) {
	old := p.pod
	p.pod = pod
	q.nominator.update(old, pod)
	switch p.where {
	case inActive:
		q.active.fix(p)
	case inBackoff:
		q.backoff.fix(p)
	case inUnschedulable:
		// A change of the pod's own spec or labels may make it fit:
		// retry it (after its backoff). Status-only changes, such as the
		// scheduler's own condition, do not.
		if podSpecChanged(old, pod) {
			q.requeueLocked(p)
		}
	case inFlight:
		if podSpecChanged(old, pod) {
			p.movedWhileInFlight = true
		}
	}
}

func podSpecChanged(a, b *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(a.Spec, b.Spec) ||
		!equality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Annotations, b.Annotations)
}

// remove forgets a pod that was deleted or got a node.
func (q *queue) remove(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.nominator.remove(pod)
	p, ok := q.pods[pod.UID]
	if !ok {
		return
	}
	q.moveLocked(p, inNone)
	delete(q.pods, pod.UID)
}

// moveLocked takes p out of where it is and puts it in to.
func (q *queue) moveLocked(p *queuedPod, to where) {
	switch p.where {
	case inActive:
		q.active.remove(p)
	case inBackoff:
		q.backoff.remove(p)
	case inUnschedulable:
		delete(q.unschedulable, p.pod.UID)
	case inFlight:
		delete(q.inflight, p.pod.UID)
	}
	p.where = to
	switch to {
	case inActive:
		q.active.add(p)
		q.cond.Broadcast()
	case inBackoff:
		q.backoff.add(p)
	case inUnschedulable:
		q.unschedulable[p.pod.UID] = p
	case inFlight:
		q.inflight[p.pod.UID] = p
	}
}

// requeueLocked sends a parked pod to backoffQ if its backoff has not
// expired, else to activeQ.
func (q *queue) requeueLocked(p *queuedPod) {
	if q.backingOff(p) {
		q.moveLocked(p, inBackoff)
	} else {
		q.moveLocked(p, inActive)
	}
}

// pop blocks until a pod is ready, and hands it out for one cycle.
func (q *queue) pop() (*queuedPod, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.closed {
		return nil, false
	}
	p := q.active.peek()
	q.moveLocked(p, inFlight)
	p.attempts++
	p.movedWhileInFlight = false
	return p, true
}

// done ends a pod's cycle when it was scheduled (or dropped): it leaves
// the queue for good.
func (q *queue) done(p *queuedPod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.pods[p.pod.UID]; ok && cur == p && p.where == inFlight {
		q.moveLocked(p, inNone)
		delete(q.pods, p.pod.UID)
	}
}

// requeueFailed puts back a pod whose cycle failed. A pod that merely
// fits nowhere is parked as unschedulable unless something that might
// help happened meanwhile; a pod that hit an error backs off and retries.
func (q *queue) requeueFailed(p *queuedPod, pod *corev1.Pod, unschedulable bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if cur, ok := q.pods[p.pod.UID]; !ok || cur != p || p.where != inFlight {
		return // deleted, bound or re-added meanwhile
	}
	if pod != nil {
		p.pod = pod
	}
	p.timestamp = q.clock.Now()
	if unschedulable && !p.movedWhileInFlight {
		q.moveLocked(p, inUnschedulable)
		return
	}
	q.moveLocked(p, inBackoff)
}

// readd puts back a pod whose binding failed, as a new arrival after
// backoff.
func (q *queue) readd(pod *corev1.Pod, attempts int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.pods[pod.UID]; ok {
		return
	}
	p := &queuedPod{pod: pod, timestamp: q.clock.Now(), attempts: attempts}
	q.pods[pod.UID] = p
	q.moveLocked(p, inBackoff)
}

// moveAll moves every parked pod (that pass matters, if given) back to
// activeQ or backoffQ after a cluster event that could make it fit.
func (q *queue) moveAll(matters func(*corev1.Pod) bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range q.unschedulable {
		if matters == nil || matters(p.pod) {
			q.requeueLocked(p)
		}
	}
	for _, p := range q.inflight {
		if matters == nil || matters(p.pod) {
			p.movedWhileInFlight = true
		}
	}
}

// flushBackoff moves pods whose backoff expired to activeQ.
func (q *queue) flushBackoff() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for {
		p := q.backoff.peek()
		if p == nil || q.backoffExpiry(p).After(now) {
			return
		}
		q.moveLocked(p, inActive)
	}
}

// flushUnschedulable retries pods parked for longer than five minutes.
func (q *queue) flushUnschedulable() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for _, p := range q.unschedulable {
		if now.Sub(p.timestamp) > maxInUnschedulable {
			q.requeueLocked(p)
		}
	}
}

// run flushes the backoff and unschedulable pods until ctx ends, then
// closes the queue so that pop returns.
func (q *queue) run(ctx context.Context) {
	backoff := q.clock.NewTicker(backoffFlushPeriod)
	defer backoff.Stop()
	unsched := q.clock.NewTicker(unschedulableFlushPerod)
	defer unsched.Stop()
	for {
		select {
		case <-ctx.Done():
			q.close()
			return
		case <-backoff.C():
			q.flushBackoff()
		case <-unsched.C():
			q.flushUnschedulable()
		}
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// counts reports how many pods are in each sub-queue (for tests).
func (q *queue) counts() (active, backoff, unschedulable int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.active.Len(), q.backoff.Len(), len(q.unschedulable)
}
