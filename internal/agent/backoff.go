package agent

import (
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Crash-loop back-off, as kubelet's: the first restart is immediate, the
// next waits 10 s, doubling up to 5 minutes; a container that ran for
// twice the maximum without failing starts over at 10 s.
const (
	backOffInitial = 10 * time.Second
	backOffMax     = 5 * time.Minute
)

type backOffEntry struct {
	delay      time.Duration
	lastUpdate time.Time
	// note is what the last failure said (image pulls show it in the
	// back-off message).
	note string
}

// backOff tracks the restart delay per pod container (kubelet's
// flowcontrol.Backoff keyed by pod and container).
type backOff struct {
	clock   clock.PassiveClock
	mu      sync.Mutex
	entries map[string]*backOffEntry
}

func newBackOff(c clock.PassiveClock) *backOff {
	return &backOff{clock: c, entries: map[string]*backOffEntry{}}
}

func (b *backOff) expired(e *backOffEntry, eventTime time.Time) bool {
	return eventTime.Sub(e.lastUpdate) > 2*backOffMax
}

// inBackOffSince reports whether a container that exited at eventTime
// must still wait, and how long.
func (b *backOff) inBackOffSince(key string, eventTime time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		return 0, false
	}
	left := e.delay - b.clock.Since(eventTime)
	return left, left > 0
}

// inBackOffSinceUpdate reports whether key's last failure is more
// recent than its delay, and how long is left (kubelet's
// IsInBackOffSinceUpdate), with the failure's note.
func (b *backOff) inBackOffSinceUpdate(key string) (time.Duration, string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return 0, "", false
	}
	left := e.delay - b.clock.Since(e.lastUpdate)
	return left, e.note, left > 0
}

// fail records a failure of key with its note and grows its delay.
func (b *backOff) fail(key, note string) {
	b.next(key, b.clock.Now())
	b.mu.Lock()
	b.entries[key].note = note
	b.mu.Unlock()
}

// get returns the current delay of key.
func (b *backOff) get(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[key]; ok {
		return e.delay
	}
	return 0
}

// next records a restart of key and grows its delay.
func (b *backOff) next(key string, eventTime time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok || b.expired(e, eventTime) {
		e = &backOffEntry{delay: backOffInitial}
		b.entries[key] = e
	} else {
		e.delay = min(2*e.delay, backOffMax)
	}
	e.lastUpdate = b.clock.Now()
}

// forget drops every entry with the prefix (a pod's).
func (b *backOff) forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
