package store

import "sync"

// ring holds the most recent events in memory, indexed by revision. The
// committer publishes into it; watchers read from it at their own cursor and
// never hold it while they wait for their consumer.
type ring struct {
	mu     sync.Mutex
	buf    []Event // the event of revision r is buf[r%len(buf)]
	first  int64   // oldest revision held; head+1 while empty
	head   int64   // newest revision published
	notify chan struct{}
	err    error // set by close: every reader ends with it
}

func newRing(size int, rev int64) *ring {
	return &ring{buf: make([]Event, size), first: rev + 1, head: rev, notify: make(chan struct{})}
}

// publish appends committed events, which carry consecutive revisions after
// head, and wakes every waiting reader.
func (r *ring) publish(events []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := int64(len(r.buf))
	for _, ev := range events {
		rev := ev.Revision()
		r.buf[rev%size] = ev
		r.head = rev
	}
	if r.head-r.first+1 > size {
		r.first = r.head - size + 1
	}
	close(r.notify)
	r.notify = make(chan struct{})
}

// readResult is what one read of the ring gives a watcher.
type readResult struct {
	events []Event       // matching events from the cursor on
	next   int64         // the cursor after them
	wait   chan struct{} // closed at the next publish
	behind bool          // the cursor is older than the ring's oldest event
	err    error         // the ring is closed
}

// read returns up to max events whose keys start with prefix, from revision
// next on, appended to dst.
func (r *ring) read(next int64, prefix string, dst []Event, max int) readResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return readResult{err: r.err}
	}
	if next < r.first {
		return readResult{next: next, behind: true}
	}
	size := int64(len(r.buf))
	for ; next <= r.head && len(dst) < max; next++ {
		if ev := r.buf[next%size]; hasPrefix(ev.KV.Key, prefix) {
			dst = append(dst, ev)
		}
	}
	return readResult{events: dst, next: next, wait: r.notify}
}

// close ends every reader with err.
func (r *ring) close(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
		close(r.notify)
	}
}

func hasPrefix(key, prefix string) bool {
	return len(key) >= len(prefix) && key[:len(prefix)] == prefix
}
