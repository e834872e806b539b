package garbagecollector

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// attemptToDeleteItem decides, on fresh reads, what becomes of one node:
// a virtual owner that does not exist is dropped (its dependents follow);
// an owner in foreground deletion deletes its blocking dependents and,
// once none is left, loses its finalizer; an object whose owners are all
// gone is deleted; one with some owners left loses the dangling references.
// It is upstream's attemptToDeleteItem.
func (gc *GarbageCollector) attemptToDeleteItem(ctx context.Context, n *node) error {
	if !gc.graph.current(n) {
		return nil
	}
	s := gc.graph.snapshot(n)
	if s.virtual {
		return gc.checkVirtual(ctx, n, s)
	}
	// Being deleted is a one-way trip: wait for the object to go, and
	// then handle its dependents.
	if s.beingDeleted && !s.deletingDependents {
		return nil
	}
	if !s.deletingDependents && len(s.owners) == 0 {
		return nil
	}
	latest, err := gc.get(ctx, s.id)
	if apierrors.IsNotFound(err) || (err == nil && latest.UID != s.id.UID) {
		// Deleted before the informer said so.
		gc.removeNode(s.id.UID, n)
		return nil
	}
	if err != nil {
		return fmt.Errorf("get %s: %w", s.id, err)
	}
	if latest.DeletionTimestamp != nil && slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
		return gc.processDeletingDependents(ctx, s)
	}
	if latest.DeletionTimestamp != nil {
		return nil
	}
	owners := latest.OwnerReferences
	if len(owners) == 0 {
		return nil
	}
	solid, dangling, waiting, err := gc.classifyReferences(ctx, s.id, owners)
	if err != nil {
		return err
	}
	switch {
	case len(solid) != 0:
		if len(dangling) == 0 && len(waiting) == 0 {
			return nil
		}
		// Some owner is alive: keep the object, drop the references to
		// owners that are gone or deleting their dependents (upstream
		// drops the latter too, so as not to block them).
		uids := append(refUIDs(dangling), refUIDs(waiting)...)
		gc.log.Debug("removing dangling owner references", "item", s.id.String(), "owners", uids)
		return gc.removeOwnerRefs(ctx, s.id, uids...)
	case len(waiting) != 0 && len(s.dependents) != 0:
		if s.dependentDeletingDependents {
			// A dependent also waits for its dependents: this
			// object's references would close a cycle, so stop them
			// from blocking before deleting in the foreground.
			if err := gc.unblockOwnerRefs(ctx, s.id, refUIDs(waiting)); err != nil {
				return err
			}
		}
		gc.log.Debug("deleting item in the foreground", "item", s.id.String())
		return gc.deleteObject(ctx, s.id, metav1.DeletePropagationForeground)
	default:
		// Every owner is gone or deleting its dependents: the object
		// goes, with the propagation its own finalizers already ask for.
		policy := metav1.DeletePropagationBackground
		switch {
		case slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents):
			policy = metav1.DeletePropagationOrphan
		case slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents):
			policy = metav1.DeletePropagationForeground
		}
		gc.log.Info("deleting object whose owners are gone", "item", s.id.String(), "propagationPolicy", policy)
		return gc.deleteObject(ctx, s.id, policy)
	}
}

// checkVirtual looks up an owner only known from references. If it does
// not exist, its node goes and its dependents are reconsidered.
func (gc *GarbageCollector) checkVirtual(ctx context.Context, n *node, s snapshot) error {
	dangling, _, err := gc.isDangling(ctx, metav1.OwnerReference{
		APIVersion: s.id.APIVersion, Kind: s.id.Kind, Name: s.id.Name, UID: s.id.UID,
	}, s.id.Namespace)
	if err != nil {
		return err
	}
	if !dangling {
		// It exists; the informer will report it (or, for a kind not
		// watched, its dependents are checked when it is deleted... as
		// upstream, they are not).
		return nil
	}
	gc.removeNode(s.id.UID, n)
	return nil
}

// processDeletingDependents moves a foreground deletion on: the owner loses
// its finalizer once no dependent blocks it.
func (gc *GarbageCollector) processDeletingDependents(ctx context.Context, s snapshot) error {
	if len(s.blocking) == 0 {
		gc.log.Info("no blocking dependents left; removing the foregroundDeletion finalizer", "item", s.id.String())
		return gc.removeFinalizer(ctx, s.id, metav1.FinalizerDeleteDependents)
	}
	for i, d := range s.blocking {
		if !s.blockingDeleting[i] {
			gc.attemptToDelete.Add(d)
		}
	}
	return nil
}

// classifyReferences sorts owner references into live owners (solid),
// owners that are gone (dangling) and owners deleting their dependents in
// the foreground (waiting).
func (gc *GarbageCollector) classifyReferences(ctx context.Context, dependent identity, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, ref := range refs {
		isDangling, owner, err := gc.isDangling(ctx, ref, dependent.Namespace)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case isDangling:
			dangling = append(dangling, ref)
		case owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents):
			waiting = append(waiting, ref)
		default:
			solid = append(solid, ref)
		}
	}
	return solid, dangling, waiting, nil
}

// isDangling reports whether the owner ref names is gone: no object of that
// kind and name in the dependent's namespace (or cluster-wide), or one with
// another UID.
func (gc *GarbageCollector) isDangling(ctx context.Context, ref metav1.OwnerReference, namespace string) (bool, *metav1.PartialObjectMetadata, error) {
	mapping, err := gc.mapping(ref.APIVersion, ref.Kind)
	if err != nil {
		return false, nil, fmt.Errorf("owner %s %s: %w", ref.APIVersion, ref.Kind, err)
	}
	id := identity{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if namespace == "" {
			// A cluster-scoped object cannot be owned by a namespaced
			// one; upstream treats the owner as absent.
			gc.recorder.Eventf(&corev1.ObjectReference{APIVersion: ref.APIVersion, Kind: ref.Kind, Name: ref.Name, UID: ref.UID},
				corev1.EventTypeWarning, "OwnerRefInvalidNamespace",
				"ownerRef %s does not resolve to a cluster-scoped object", refString(ref))
			return true, nil, nil
		}
		id.Namespace = namespace
	}
	if gc.absent.has(id) {
		return true, nil, nil
	}
	owner, err := gc.cfg.Metadata.Resource(mapping.Resource).Namespace(id.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		gc.absent.add(id)
		return true, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("get owner %s: %w", id, err)
	}
	if owner.UID != ref.UID {
		gc.absent.add(id)
		return true, nil, nil
	}
	return false, owner, nil
}

func refUIDs(refs []metav1.OwnerReference) []types.UID {
	out := make([]types.UID, len(refs))
	for i, r := range refs {
		out[i] = r.UID
	}
	return out
}

func refString(r metav1.OwnerReference) string {
	return fmt.Sprintf("[%s/%s, name: %s, uid: %s]", r.APIVersion, r.Kind, r.Name, r.UID)
}
