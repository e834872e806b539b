package endpointutil

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// TriggerTimeTracker computes the endpoints.kubernetes.io/last-change-trigger-time
// annotation as upstream does: the earliest time of the changes (a pod's
// Ready transition, the service's creation) that this sync is the first
// to see. It is what lets a consumer measure how long a change took to
// reach the endpoints.
type TriggerTimeTracker struct {
	mu       sync.Mutex
	services map[serviceKey]serviceState
}

type serviceKey struct{ namespace, name string }

// serviceState is what the previous sync of one service saw.
type serviceState struct {
	pods    map[string]time.Time
	service time.Time
}

// NewTriggerTimeTracker returns an empty tracker.
func NewTriggerTimeTracker() *TriggerTimeTracker {
	return &TriggerTimeTracker{services: map[serviceKey]serviceState{}}
}

// ComputeEndpointLastChangeTriggerTime returns the trigger time for this
// sync of svc over pods (zero: none changed) and remembers what it saw.
// It must be called on every sync, even one that writes nothing.
func (t *TriggerTimeTracker) ComputeEndpointLastChangeTriggerTime(namespace string, svc *corev1.Service, pods []*corev1.Pod) time.Time {
	key := serviceKey{namespace, svc.Name}
	t.mu.Lock()
	state, known := t.services[key]
	t.mu.Unlock()

	var minChanged time.Time
	earliest := func(ts time.Time) {
		if minChanged.IsZero() || ts.Before(minChanged) {
			minChanged = ts
		}
	}
	podTimes := make(map[string]time.Time, len(pods))
	for _, pod := range pods {
		c := PodReadyCondition(pod)
		if c == nil || c.LastTransitionTime.IsZero() {
			continue
		}
		ts := c.LastTransitionTime.Time
		podTimes[pod.Name] = ts
		if ts.After(state.pods[pod.Name]) {
			earliest(ts)
		}
	}
	svcTime := svc.CreationTimestamp.Time
	if svcTime.After(state.service) {
		earliest(svcTime)
	}

	t.mu.Lock()
	t.services[key] = serviceState{pods: podTimes, service: svcTime}
	t.mu.Unlock()
	if !known {
		return svc.CreationTimestamp.Time
	}
	return minChanged
}

// DeleteService forgets a deleted service.
func (t *TriggerTimeTracker) DeleteService(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.services, serviceKey{namespace, name})
}
