package apiserver

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// objectCache keeps every object of one resource decoded in memory,
// following the store with a list and a watch, so that hot paths (the
// authorizer reads RBAC objects on every request) read no disk and decode
// nothing.
type objectCache struct {
	res    *registry.Resource
	mu     sync.RWMutex
	byKey  map[string]runtime.Object // "namespace/name"
	synced chan struct{}
}

func newObjectCache(res *registry.Resource) *objectCache {
	return &objectCache{res: res, byKey: map[string]runtime.Object{}, synced: make(chan struct{})}
}

// run fills the cache and follows the store until ctx ends. A watch that
// ends (too slow, compacted) is answered with a fresh list, as informers do.
func (c *objectCache) run(ctx context.Context, s *Server) {
	first := true
	for ctx.Err() == nil {
		rev, err := c.relist(ctx, s)
		if err == nil {
			if first {
				close(c.synced)
				first = false
			}
			err = c.follow(ctx, s, rev)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("cache re-lists", "resource", c.res.GVR.Resource, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (c *objectCache) relist(ctx context.Context, s *Server) (int64, error) {
	objs, lm, err := s.listObjects(ctx, c.res, "", listQuery{filter: matchAll(c.res)})
	if err != nil {
		return 0, err
	}
	fresh := make(map[string]runtime.Object, len(objs))
	for _, obj := range objs {
		fresh[cacheKey(obj)] = obj
	}
	c.mu.Lock()
	c.byKey = fresh
	c.mu.Unlock()
	return strconv.ParseInt(lm.ResourceVersion, 10, 64)
}

func (c *objectCache) follow(ctx context.Context, s *Server, rev int64) error {
	w, err := s.cfg.Store.Watch(ctx, resourcePrefix(c.res, ""), rev)
	if err != nil {
		return err
	}
	defer w.Stop()
	for ev := range w.Events() {
		kv := ev.KV
		if ev.Type == store.EventDelete {
			kv = ev.Prev
		}
		obj, err := s.decodeObject(c.res, kv)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if ev.Type == store.EventDelete {
			delete(c.byKey, cacheKey(obj))
		} else {
			c.byKey[cacheKey(obj)] = obj
		}
		c.mu.Unlock()
	}
	if err := w.Err(); err != nil {
		return err
	}
	return errors.New("watch ended")
}

func cacheKey(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetNamespace() + "/" + m.GetName()
}

// get returns one object; the caller must not modify it.
func (c *objectCache) get(namespace, name string) (runtime.Object, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	obj, ok := c.byKey[namespace+"/"+name]
	return obj, ok
}

// list returns the objects of one namespace ("" with cluster-scoped
// resources); the caller must not modify them.
func (c *objectCache) list(namespace string) []runtime.Object {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]runtime.Object, 0, len(c.byKey))
	for _, obj := range c.byKey {
		if m, err := meta.Accessor(obj); err == nil && m.GetNamespace() == namespace {
			out = append(out, obj)
		}
	}
	return out
}
