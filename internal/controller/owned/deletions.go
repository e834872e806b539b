package owned

import (
	"sync"

	"k8s.io/utils/clock"
)

// TrackedExpectations are Expectations that also remember which objects
// a controller deleted, as upstream's UIDTrackingControllerExpectations:
// a pod is seen twice on its way out (once when its deletionTimestamp is
// set, once when it is removed), and only the first sighting of a pod the
// controller itself deleted may lower the outstanding deletions.
type TrackedExpectations struct {
	*Expectations
	mu       sync.Mutex
	deleting map[string]map[string]struct{} // controller key -> object keys
}

// NewTrackedExpectations returns empty expectations timed by clk (nil:
// real time).
func NewTrackedExpectations(clk clock.PassiveClock) *TrackedExpectations {
	return &TrackedExpectations{Expectations: NewExpectations(clk), deleting: map[string]map[string]struct{}{}}
}

// ExpectDeletions records that the controller under key is deleting the
// objects named by objKeys ("namespace/name") and expects to see each go.
func (e *TrackedExpectations) ExpectDeletions(key string, objKeys []string) {
	e.mu.Lock()
	set := make(map[string]struct{}, len(objKeys))
	for _, k := range objKeys {
		set[k] = struct{}{}
	}
	e.deleting[key] = set
	e.mu.Unlock()
	e.Expect(key, 0, len(objKeys))
}

// DeletionObservedFor counts the deletion of objKey once, if the
// controller under key was waiting for it.
func (e *TrackedExpectations) DeletionObservedFor(key, objKey string) {
	e.mu.Lock()
	set := e.deleting[key]
	_, ok := set[objKey]
	if ok {
		delete(set, objKey)
	}
	e.mu.Unlock()
	if ok {
		e.DeletionObserved(key)
	}
}

// Delete forgets key and the objects it was deleting.
func (e *TrackedExpectations) Delete(key string) {
	e.mu.Lock()
	delete(e.deleting, key)
	e.mu.Unlock()
	e.Expectations.Delete(key)
}
