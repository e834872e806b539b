package garbagecollector

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// observe records an added or updated object in the graph and queues what
// the change calls for, as upstream's processGraphChanges.
func (gc *GarbageCollector) observe(obj any, apiVersion, kind string) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	g := gc.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	uid := m.GetUID()
	n := g.nodes[uid]
	if n == nil {
		n = &node{}
		g.nodes[uid] = n
	}
	// Observation wins over what a dependent's reference said.
	n.virtual = false
	n.id = identity{APIVersion: apiVersion, Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: uid}
	old := n.owners
	n.owners = m.GetOwnerReferences()

	for _, ref := range old {
		o := g.nodes[ref.UID]
		if o == nil {
			continue
		}
		now, still := n.ownerRef(ref.UID)
		if !still {
			o.removeDependent(n)
			if o.virtual && len(o.dependents) == 0 {
				delete(g.nodes, o.id.UID)
			}
		}
		// An owner waiting for its blocking dependents may be free now.
		wasBlocking := ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
		blocking := still && now.BlockOwnerDeletion != nil && *now.BlockOwnerDeletion
		if o.deletingDependents && wasBlocking && !blocking {
			gc.attemptToDelete.Add(o)
		}
	}
	for _, ref := range n.owners {
		if slices.ContainsFunc(old, func(r metav1.OwnerReference) bool { return r.UID == ref.UID }) {
			continue
		}
		o := g.nodes[ref.UID]
		if o == nil {
			// An owner not (yet) observed: a virtual node, checked
			// against the API by a worker.
			o = &node{virtual: true, id: identity{
				APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: m.GetNamespace(), Name: ref.Name, UID: ref.UID,
			}}
			g.nodes[ref.UID] = o
			gc.attemptToDelete.Add(o)
		}
		o.addDependent(n)
	}

	deleting := m.GetDeletionTimestamp() != nil
	n.beingDeleted = deleting
	wasDeletingDependents := n.deletingDependents
	n.deletingDependents = deleting && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
	if n.deletingDependents && !wasDeletingDependents {
		for d := range n.dependents {
			gc.attemptToDelete.Add(d)
		}
		gc.attemptToDelete.Add(n)
	}
	if deleting && slices.Contains(m.GetFinalizers(), metav1.FinalizerOrphanDependents) {
		gc.attemptToOrphan.Add(n)
	}
}

// observeDeleted removes a deleted object from the graph; its dependents
// may now be orphans, and its owners may be waiting for it.
func (gc *GarbageCollector) observeDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	gc.removeNode(m.GetUID(), nil)
}

// removeNode drops the node of uid (only if it is still want, when want is
// set) and queues its dependents and the owners waiting for it.
func (gc *GarbageCollector) removeNode(uid types.UID, want *node) {
	g := gc.graph
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil || (want != nil && n != want) {
		return
	}
	delete(g.nodes, uid)
	if len(n.dependents) > 0 {
		gc.absent.add(n.id)
	}
	for d := range n.dependents {
		gc.attemptToDelete.Add(d)
	}
	for _, ref := range n.owners {
		o := g.nodes[ref.UID]
		if o == nil {
			continue
		}
		o.removeDependent(n)
		if o.deletingDependents {
			gc.attemptToDelete.Add(o)
		}
		if o.virtual && len(o.dependents) == 0 {
			delete(g.nodes, o.id.UID)
		}
	}
}
