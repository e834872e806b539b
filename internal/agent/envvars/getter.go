package envvars

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Getter reads the objects a pod's environment and volumes refer to. A
// missing ConfigMap or Secret is an error for which apierrors.IsNotFound
// holds, reading as kubelet's does: `configmap "x" not found`.
type Getter interface {
	ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	Services(ctx context.Context, namespace string) ([]*corev1.Service, error)
}

// CachedGetter is a Getter that keeps each answer (found or not found) for
// a TTL, as kubelet's TTL-based configmap and secret managers do, and lets
// concurrent callers asking for the same object share one request. The
// returned objects are shared: callers must not modify them.
type CachedGetter struct {
	client kubernetes.Interface
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	entries   map[cacheKey]*cacheEntry
	lastPrune time.Time
}

type cacheKey struct{ kind, namespace, name string }

type cacheEntry struct {
	done    chan struct{} // closed once the fetch finished
	fetched time.Time
	obj     any
	err     error
}

// NewCachedGetter returns a Getter over client whose answers are at most
// ttl old. The volume manager re-reads its sources through it, so ttl
// bounds how late a changed ConfigMap reaches a pod's files.
func NewCachedGetter(client kubernetes.Interface, ttl time.Duration) *CachedGetter {
	return &CachedGetter{client: client, ttl: ttl, now: time.Now, entries: map[cacheKey]*cacheEntry{}}
}

// ConfigMap implements Getter.
func (g *CachedGetter) ConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	obj, err := g.get(ctx, cacheKey{"configmap", namespace, name}, func(ctx context.Context) (any, error) {
		return g.client.CoreV1().ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
	})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ConfigMap), nil
}

// Secret implements Getter.
func (g *CachedGetter) Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error) {
	obj, err := g.get(ctx, cacheKey{"secret", namespace, name}, func(ctx context.Context) (any, error) {
		return g.client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

// Services implements Getter.
func (g *CachedGetter) Services(ctx context.Context, namespace string) ([]*corev1.Service, error) {
	obj, err := g.get(ctx, cacheKey{"services", namespace, ""}, func(ctx context.Context) (any, error) {
		list, err := g.client.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		out := make([]*corev1.Service, len(list.Items))
		for i := range list.Items {
			out[i] = &list.Items[i]
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return obj.([]*corev1.Service), nil
}

func (g *CachedGetter) get(ctx context.Context, key cacheKey, fetch func(context.Context) (any, error)) (any, error) {
	for {
		g.mu.Lock()
		e, ok := g.entries[key]
		if ok {
			select {
			case <-e.done:
				if g.now().Sub(e.fetched) < g.ttl {
					g.mu.Unlock()
					return e.obj, e.err
				}
				ok = false // stale: fetch again
			default:
			}
		}
		if !ok {
			g.pruneLocked()
			e = &cacheEntry{done: make(chan struct{})}
			g.entries[key] = e
			g.mu.Unlock()
			e.obj, e.err = fetch(ctx)
			e.fetched = g.now()
			if e.err != nil && !apierrors.IsNotFound(e.err) {
				// Transient failures are not cached: the next caller retries.
				g.mu.Lock()
				if g.entries[key] == e {
					delete(g.entries, key)
				}
				g.mu.Unlock()
			}
			if apierrors.IsNotFound(e.err) {
				e.err = notFound(key.kind, key.name)
			}
			close(e.done)
			return e.obj, e.err
		}
		g.mu.Unlock()
		select {
		case <-e.done:
			// Loop: the entry is fresh now (or was a transient failure,
			// which the next round retries).
			if e.err == nil || apierrors.IsNotFound(e.err) {
				return e.obj, e.err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pruneLocked drops stale answers now and then, so that objects no pod
// asks for any more do not stay in memory.
func (g *CachedGetter) pruneLocked() {
	now := g.now()
	if now.Sub(g.lastPrune) < 10*max(g.ttl, time.Second) {
		return
	}
	g.lastPrune = now
	for k, e := range g.entries {
		select {
		case <-e.done:
			if now.Sub(e.fetched) >= g.ttl {
				delete(g.entries, k)
			}
		default:
		}
	}
}

// notFound is kubelet's not-found error for a ConfigMap or Secret: the
// resource named in the singular (`configmap "x" not found`), as pod
// status messages and events show it.
func notFound(resource, name string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: resource}, name)
}
