package endpointslice

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// deletionExpected marks a slice this controller deleted.
const deletionExpected = -1

// tracker remembers the generation of every slice this controller wrote,
// per service, as upstream's EndpointSliceTracker. It answers two
// questions: is the informer cache behind this controller's own writes
// (then a sync would act on stale state and create duplicates), and did
// someone else change a slice (then the service needs a sync).
type tracker struct {
	mu  sync.Mutex
	gen map[types.NamespacedName]map[types.UID]int64
}

func newTracker() *tracker {
	return &tracker{gen: map[types.NamespacedName]map[types.UID]int64{}}
}

func sliceService(s *discoveryv1.EndpointSlice) types.NamespacedName {
	return types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
}

// has reports whether the slice is tracked.
func (t *tracker) has(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.gen[sliceService(s)][s.UID]
	return ok
}

// shouldSync reports whether a slice event is news: a slice not written by
// this controller, or a newer generation than it wrote.
func (t *tracker) shouldSync(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	g, ok := t.gen[sliceService(s)][s.UID]
	return !ok || s.Generation > g
}

// stale reports whether slices (from the cache) lag behind what this
// controller wrote for svc: an older generation, a slice it deleted still
// there, or one it created not yet there.
func (t *tracker) stale(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	gens, ok := t.gen[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}]
	if !ok {
		return false
	}
	seen := make(map[types.UID]bool, len(slices))
	for _, s := range slices {
		seen[s.UID] = true
		if g, ok := gens[s.UID]; ok && (g == deletionExpected || g > s.Generation) {
			return true
		}
	}
	for uid, g := range gens {
		if g != deletionExpected && !seen[uid] {
			return true
		}
	}
	return false
}

// update records a slice this controller wrote.
func (t *tracker) update(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := sliceService(s)
	if t.gen[key] == nil {
		t.gen[key] = map[types.UID]int64{}
	}
	t.gen[key][s.UID] = s.Generation
}

// expectDeletion records a slice this controller deleted.
func (t *tracker) expectDeletion(s *discoveryv1.EndpointSlice) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := sliceService(s)
	if t.gen[key] == nil {
		t.gen[key] = map[types.UID]int64{}
	}
	t.gen[key][s.UID] = deletionExpected
}

// handleDeletion forgets a deleted slice and reports whether this
// controller deleted it.
func (t *tracker) handleDeletion(s *discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := sliceService(s)
	gens := t.gen[key]
	g, ok := gens[s.UID]
	if !ok {
		return false
	}
	delete(gens, s.UID)
	if len(gens) == 0 {
		delete(t.gen, key)
	}
	return g == deletionExpected
}

// deleteService forgets a deleted service.
func (t *tracker) deleteService(namespace, name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.gen, types.NamespacedName{Namespace: namespace, Name: name})
}
