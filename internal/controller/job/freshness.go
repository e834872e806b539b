package job

import (
	"strconv"
	"sync"
)

// writtenVersions remembers, per job key, the resourceVersion of the
// last status this controller wrote. Until the job cache has caught up
// with it, a sync would see pods whose finalizers it already removed
// (counted in that write) but not the counts themselves, and would
// create pods again for work already done. Upstream narrows the same
// window by delaying pod-triggered syncs by a second; waiting for the
// cache closes it. Resource versions are compared as the store's
// revision numbers; anything that does not parse is not tracked.
type writtenVersions struct {
	mu sync.Mutex
	m  map[string]uint64
}

func newWrittenVersions() *writtenVersions { return &writtenVersions{m: map[string]uint64{}} }

func (w *writtenVersions) wrote(key, rv string) {
	n, err := strconv.ParseUint(rv, 10, 64)
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if n > w.m[key] {
		w.m[key] = n
	}
}

// stale reports whether the cached version rv is older than what the
// controller last wrote; once it is not, the key is forgotten.
func (w *writtenVersions) stale(key, rv string) bool {
	n, err := strconv.ParseUint(rv, 10, 64)
	w.mu.Lock()
	defer w.mu.Unlock()
	written, ok := w.m[key]
	if !ok {
		return false
	}
	if err != nil || n >= written {
		delete(w.m, key)
		return false
	}
	return true
}

func (w *writtenVersions) forget(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, key)
}
