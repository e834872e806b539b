package owned

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// ExpectationsTTL is how long expectations are trusted before a
// controller acts anyway, as upstream (a lost watch event must not stall
// a controller forever).
const ExpectationsTTL = 5 * time.Minute

// Expectations remember, per controller key, how many creations and
// deletions the controller asked for and has not yet seen in its
// informer cache. While some are outstanding the controller must not
// compute a new diff from the cache (it would create or delete twice), as
// upstream's ControllerExpectations.
type Expectations struct {
	clock clock.PassiveClock
	mu    sync.Mutex
	m     map[string]*expectation
}

type expectation struct {
	add, del int64
	at       time.Time
}

// NewExpectations returns empty expectations timed by clk (nil: real time).
func NewExpectations(clk clock.PassiveClock) *Expectations {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Expectations{clock: clk, m: map[string]*expectation{}}
}

// Satisfied reports whether key has nothing outstanding (or its
// expectations expired, or were never set).
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.add <= 0 && x.del <= 0) || e.clock.Since(x.at) > ExpectationsTTL
}

// Expect sets key's outstanding creations and deletions.
func (e *Expectations) Expect(key string, add, del int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[key] = &expectation{add: int64(add), del: int64(del), at: e.clock.Now()}
}

// CreationObserved counts one creation seen (or one that failed and will
// never be seen).
func (e *Expectations) CreationObserved(key string) { e.lower(key, 1, 0) }

// DeletionObserved counts one deletion seen (or one that failed).
func (e *Expectations) DeletionObserved(key string) { e.lower(key, 0, 1) }

func (e *Expectations) lower(key string, add, del int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		x.add -= add
		x.del -= del
	}
}

// Delete forgets key (its controller is gone).
func (e *Expectations) Delete(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
