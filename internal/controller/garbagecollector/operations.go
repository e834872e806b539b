package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"
)

// maxPatchAttempts bounds read-modify-patch loops that lose races.
const maxPatchAttempts = 5

// resource returns the client for id's resource, honouring its scope.
func (gc *GarbageCollector) resource(id identity) (metadata.ResourceInterface, error) {
	mapping, err := gc.mapping(id.APIVersion, id.Kind)
	if err != nil {
		return nil, err
	}
	c := gc.cfg.Metadata.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Namespace(id.Namespace), nil
	}
	return c, nil
}

// get reads id's current metadata.
func (gc *GarbageCollector) get(ctx context.Context, id identity) (*metav1.PartialObjectMetadata, error) {
	c, err := gc.resource(id)
	if err != nil {
		return nil, err
	}
	return c.Get(ctx, id.Name, metav1.GetOptions{})
}

// deleteObject deletes id (and only that incarnation of it).
func (gc *GarbageCollector) deleteObject(ctx context.Context, id identity, policy metav1.DeletionPropagation) error {
	c, err := gc.resource(id)
	if err != nil {
		return err
	}
	uid := id.UID
	err = c.Delete(ctx, id.Name, metav1.DeleteOptions{
		Preconditions:     &metav1.Preconditions{UID: &uid},
		PropagationPolicy: &policy,
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Gone, or replaced by a new object of the same name: the new
		// one is not ours to delete.
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// metaPatch is the JSON merge patch the collector sends: the full new
// list, with the resourceVersion it was computed from, so that a
// concurrent write makes it fail with a conflict instead of being lost.
type metaPatch struct {
	Metadata metaPatchFields `json:"metadata"`
}

type metaPatchFields struct {
	ResourceVersion string                   `json:"resourceVersion"`
	OwnerReferences *[]metav1.OwnerReference `json:"ownerReferences,omitempty"`
	Finalizers      *[]string                `json:"finalizers,omitempty"`
}

// update reads id, lets change compute its patch fields (false: nothing to
// do) and patches, rereading when a concurrent write wins.
func (gc *GarbageCollector) update(ctx context.Context, id identity, change func(*metav1.PartialObjectMetadata, *metaPatchFields) bool) error {
	c, err := gc.resource(id)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		obj, err := c.Get(ctx, id.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get %s: %w", id, err)
		}
		if obj.UID != id.UID {
			return nil
		}
		fields := metaPatchFields{ResourceVersion: obj.ResourceVersion}
		if !change(obj, &fields) {
			return nil
		}
		body, err := json.Marshal(metaPatch{Metadata: fields})
		if err != nil {
			return err
		}
		_, err = c.Patch(ctx, id.Name, types.MergePatchType, body, metav1.PatchOptions{})
		switch {
		case err == nil, apierrors.IsNotFound(err):
			return nil
		case apierrors.IsConflict(err) && attempt < maxPatchAttempts:
			continue
		default:
			return fmt.Errorf("patch %s: %w", id, err)
		}
	}
}

// removeOwnerRefs drops id's references to the owners in uids.
func (gc *GarbageCollector) removeOwnerRefs(ctx context.Context, id identity, uids ...types.UID) error {
	return gc.update(ctx, id, func(obj *metav1.PartialObjectMetadata, f *metaPatchFields) bool {
		kept := slices.DeleteFunc(slices.Clone(obj.OwnerReferences), func(r metav1.OwnerReference) bool {
			return slices.Contains(uids, r.UID)
		})
		if len(kept) == len(obj.OwnerReferences) {
			return false
		}
		if kept == nil {
			kept = []metav1.OwnerReference{}
		}
		f.OwnerReferences = &kept
		return true
	})
}

// unblockOwnerRefs sets blockOwnerDeletion=false on id's references to the
// owners in uids, so that a dependency cycle cannot stall a foreground
// deletion.
func (gc *GarbageCollector) unblockOwnerRefs(ctx context.Context, id identity, uids []types.UID) error {
	return gc.update(ctx, id, func(obj *metav1.PartialObjectMetadata, f *metaPatchFields) bool {
		refs := slices.Clone(obj.OwnerReferences)
		changed := false
		for i := range refs {
			if slices.Contains(uids, refs[i].UID) && refs[i].BlockOwnerDeletion != nil && *refs[i].BlockOwnerDeletion {
				no := false
				refs[i].BlockOwnerDeletion = &no
				changed = true
			}
		}
		f.OwnerReferences = &refs
		return changed
	})
}

// removeFinalizer drops finalizer from id.
func (gc *GarbageCollector) removeFinalizer(ctx context.Context, id identity, finalizer string) error {
	return gc.update(ctx, id, func(obj *metav1.PartialObjectMetadata, f *metaPatchFields) bool {
		if !slices.Contains(obj.Finalizers, finalizer) {
			return false
		}
		kept := slices.DeleteFunc(slices.Clone(obj.Finalizers), func(s string) bool { return s == finalizer })
		if kept == nil {
			kept = []string{}
		}
		f.Finalizers = &kept
		return true
	})
}
