package apiserver

import (
	"container/list"
	"sync"
)

// jsonCache keeps the JSON of recently listed objects by store key and
// revision, so a LIST of objects that have not changed since the last one
// neither decodes nor encodes them: encoding is most of a large list's
// time. A revision names one stored value for ever, so an entry is never
// stale; the least recently used entries go when the cache holds more
// than its byte budget.
//
// It also carries the watch events shared between watchers: the server's
// one cache of encodings, so that the Server holds a single field.
type jsonCache struct {
	watchEvents *watchEvents

	mu     sync.Mutex
	budget int
	size   int
	lru    *list.List               // front: most recently used
	byKey  map[string]*list.Element // store key -> entry
}

type jsonEntry struct {
	key  string
	rev  int64
	json []byte
}

func newJSONCache(budget int) *jsonCache {
	return &jsonCache{budget: budget, lru: list.New(), byKey: map[string]*list.Element{}, watchEvents: newWatchEvents()}
}

// get returns the JSON of key at revision rev, if cached.
func (c *jsonCache) get(key string, rev int64) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok || el.Value.(*jsonEntry).rev != rev {
		return nil, false
	}
	c.lru.MoveToFront(el)
	return el.Value.(*jsonEntry).json, true
}

// put caches the JSON of key at revision rev, replacing an older one.
func (c *jsonCache) put(key string, rev int64, json []byte) {
	if len(json) > c.budget/16 {
		return // one huge object should not empty the cache
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[key]; ok {
		e := el.Value.(*jsonEntry)
		if e.rev > rev {
			return
		}
		c.size += len(json) - len(e.json)
		e.rev, e.json = rev, json
		c.lru.MoveToFront(el)
	} else {
		c.byKey[key] = c.lru.PushFront(&jsonEntry{key: key, rev: rev, json: json})
		c.size += len(json)
	}
	for c.size > c.budget {
		oldest := c.lru.Back()
		e := oldest.Value.(*jsonEntry)
		c.lru.Remove(oldest)
		delete(c.byKey, e.key)
		c.size -= len(e.json)
	}
}
