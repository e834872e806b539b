// Package owned is what the workload controllers share about the objects
// they own, as upstream's pkg/controller does it: claiming objects by
// selector and controller reference (adopting orphans, releasing objects
// that no longer match), expectations that keep a controller from acting
// twice on a stale cache, and pods made from a template.
package owned

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Patcher applies a strategic merge patch to one owned object.
type Patcher func(ctx context.Context, namespace, name string, patch []byte) error

// Claimer decides, for one controller object, which objects it owns, as
// upstream's ControllerRefManager: an object whose controller reference
// names the controller is kept while the selector matches it and
// released (its reference removed) when it stops matching; an orphan
// that matches is adopted (a controller reference added), unless the
// controller is being deleted; objects controlled by others are left
// alone. Objects being deleted are neither adopted nor released.
type Claimer struct {
	Controller metav1.Object
	Kind       schema.GroupVersionKind
	Selector   labels.Selector
	Patch      Patcher
	// CanAdopt is asked once, before the first adoption, whether the
	// controller may adopt: upstream re-reads the controller from the API
	// (not the cache) to be sure it still exists with the same UID and is
	// not being deleted. Nil allows adoption.
	CanAdopt func(ctx context.Context) error

	once     sync.Once
	adoptErr error
}

// Claim returns the objects of objs that the controller owns after
// adopting and releasing as needed. Errors from adoption or release are
// joined; objects that failed are left out.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var owned []T
	var errs []error
	for _, o := range objs {
		ok, err := c.claimOne(ctx, o)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			owned = append(owned, o)
		}
	}
	if len(errs) > 0 {
		return owned, fmt.Errorf("claiming objects of %s %s/%s: %v", c.Kind.Kind, c.Controller.GetNamespace(), c.Controller.GetName(), errs)
	}
	return owned, nil
}

func (c *Claimer) claimOne(ctx context.Context, o metav1.Object) (bool, error) {
	matches := c.Selector.Matches(labels.Set(o.GetLabels()))
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		if ref.UID != c.Controller.GetUID() {
			return false, nil // someone else's
		}
		if matches {
			return true, nil
		}
		if c.Controller.GetDeletionTimestamp() != nil || o.GetDeletionTimestamp() != nil {
			return false, nil // let the deletion finish; releasing would race it
		}
		return false, c.release(ctx, o)
	}
	// An orphan.
	if !matches || c.Controller.GetDeletionTimestamp() != nil || o.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if o.GetNamespace() != c.Controller.GetNamespace() {
		return false, nil
	}
	if err := c.adopt(ctx, o); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *Claimer) adopt(ctx context.Context, o metav1.Object) error {
	c.once.Do(func() {
		if c.CanAdopt != nil {
			c.adoptErr = c.CanAdopt(ctx)
		}
	})
	if c.adoptErr != nil {
		return fmt.Errorf("can't adopt %s/%s: %w", o.GetNamespace(), o.GetName(), c.adoptErr)
	}
	ref := *metav1.NewControllerRef(c.Controller, c.Kind)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []metav1.OwnerReference{ref},
		"uid":             o.GetUID(), // fails the patch if the object was replaced
	}})
	if err != nil {
		return err
	}
	return c.Patch(ctx, o.GetNamespace(), o.GetName(), patch)
}

func (c *Claimer) release(ctx context.Context, o metav1.Object) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"ownerReferences": []map[string]any{{"$patch": "delete", "uid": c.Controller.GetUID()}},
		"uid":             o.GetUID(),
	}})
	if err != nil {
		return err
	}
	err = c.Patch(ctx, o.GetNamespace(), o.GetName(), patch)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil // gone or replaced: nothing of ours left to release
	}
	return err
}

// RecheckDeletion is the usual CanAdopt: get returns the controller as the
// API has it now; adoption is refused if it is gone, was replaced, or is
// being deleted.
func RecheckDeletion(controller metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx)
		if err != nil {
			return err
		}
		if fresh.GetUID() != controller.GetUID() {
			return fmt.Errorf("original %s/%s is gone: got uid %v, wanted %v",
				controller.GetNamespace(), controller.GetName(), fresh.GetUID(), controller.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s/%s has just been deleted at %v",
				controller.GetNamespace(), controller.GetName(), fresh.GetDeletionTimestamp())
		}
		return nil
	}
}

// ControllerUID returns the UID of o's controller, if any.
func ControllerUID(o metav1.Object) (types.UID, bool) {
	if ref := metav1.GetControllerOfNoCopy(o); ref != nil {
		return ref.UID, true
	}
	return "", false
}
