package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// identity names an object: what an ownerReference names, plus the
// namespace.
type identity struct {
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	UID        types.UID
}

// node is one object in the graph. All fields are guarded by graph.mu.
type node struct {
	id identity
	// owners are the object's ownerReferences as last observed.
	owners []metav1.OwnerReference
	// dependents are the nodes whose ownerReferences name this one.
	dependents map[*node]struct{}
	// virtual: only known from dependents' ownerReferences, not observed.
	virtual bool
	// beingDeleted: the object has a deletionTimestamp.
	beingDeleted bool
	// deletingDependents: being deleted with the foregroundDeletion
	// finalizer.
	deletingDependents bool
}

// graph is the owner -> dependents graph, by UID.
type graph struct {
	mu    sync.Mutex
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

func (n *node) addDependent(d *node) {
	if n.dependents == nil {
		n.dependents = map[*node]struct{}{}
	}
	n.dependents[d] = struct{}{}
}

func (n *node) removeDependent(d *node) {
	delete(n.dependents, d)
	if len(n.dependents) == 0 {
		n.dependents = nil // a leaf costs no map
	}
}

// ownerRef returns n's reference to the owner with that UID.
func (n *node) ownerRef(owner types.UID) (metav1.OwnerReference, bool) {
	i := slices.IndexFunc(n.owners, func(r metav1.OwnerReference) bool { return r.UID == owner })
	if i < 0 {
		return metav1.OwnerReference{}, false
	}
	return n.owners[i], true
}

// blocks reports whether n's reference to owner has blockOwnerDeletion.
func (n *node) blocks(owner types.UID) bool {
	ref, ok := n.ownerRef(owner)
	return ok && ref.BlockOwnerDeletion != nil && *ref.BlockOwnerDeletion
}

// snapshot is a copy of a node's state for a worker to act on unlocked.
type snapshot struct {
	id                 identity
	owners             []metav1.OwnerReference
	virtual            bool
	beingDeleted       bool
	deletingDependents bool
	dependents         []*node
	// dependentDeletingDependents: some dependent is itself in foreground
	// deletion (a cycle upstream breaks by unblocking).
	dependentDeletingDependents bool
	dependentIDs                []identity
	// blocking are the dependents whose reference to this node has
	// blockOwnerDeletion=true.
	blocking []*node
	// blockingDeleting says, per blocking dependent, whether it is itself
	// deleting its dependents.
	blockingDeleting []bool
}

func (g *graph) snapshot(n *node) snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := snapshot{
		id:                 n.id,
		owners:             slices.Clone(n.owners),
		virtual:            n.virtual,
		beingDeleted:       n.beingDeleted,
		deletingDependents: n.deletingDependents,
	}
	for d := range n.dependents {
		s.dependents = append(s.dependents, d)
		s.dependentIDs = append(s.dependentIDs, d.id)
		s.dependentDeletingDependents = s.dependentDeletingDependents || d.deletingDependents
		if d.blocks(n.id.UID) {
			s.blocking = append(s.blocking, d)
			s.blockingDeleting = append(s.blockingDeleting, d.deletingDependents)
		}
	}
	return s
}

// current reports whether n is still the graph's node for its UID.
func (g *graph) current(n *node) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[n.id.UID] == n
}
