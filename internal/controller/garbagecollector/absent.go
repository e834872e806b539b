package garbagecollector

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// absentCacheSize bounds the cache, as upstream's 500-entry LRU.
const absentCacheSize = 500

// absentCache remembers owners known to be gone, so that the many
// dependents of one deleted owner cost one GET rather than one each. An
// owner's UID is never reused, so an entry never goes stale; the cache is
// only bounded.
type absentCache struct {
	mu      sync.Mutex
	max     int
	entries map[absentKey]struct{}
}

func newAbsentCache(max int) *absentCache {
	return &absentCache{max: max, entries: map[absentKey]struct{}{}}
}

func (c *absentCache) add(id identity) {
	key := absentKey{id.UID, id.Namespace}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Dropping everything is cheaper than LRU bookkeeping and only
		// costs a few extra GETs.
		clear(c.entries)
	}
	c.entries[key] = struct{}{}
}

func (c *absentCache) has(id identity) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.entries[absentKey{id.UID, id.Namespace}]
	return ok
}

// absentKey is an owner's UID and the namespace it was looked for in: a
// namespaced owner is only found in its dependents' namespace.
type absentKey struct {
	uid       types.UID
	namespace string
}
