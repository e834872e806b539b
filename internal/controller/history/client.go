package history

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsclient "k8s.io/client-go/kubernetes/typed/apps/v1"
)

// errNilCollisionCount is returned by Create when it has nowhere to count
// collisions.
var errNilCollisionCount = errors.New("collisionCount should not be nil")

// Create creates revision under parent, as upstream's
// CreateControllerRevision: the name is the parent's name and the hash of
// the data with *collisionCount; when a different revision already has
// that name, *collisionCount is raised and the next name tried. An equal
// revision that already exists is returned as if created.
func Create(ctx context.Context, client appsclient.ControllerRevisionsGetter, parent metav1.Object,
	revision *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, errNilCollisionCount
	}
	clone := revision.DeepCopy()
	ns := parent.GetNamespace()
	for {
		clone.Name = RevisionName(parent.GetName(), HashControllerRevision(revision, collisionCount))
		created, err := client.ControllerRevisions(ns).Create(ctx, clone, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return nil, fmt.Errorf("creating controller revision %s/%s: %w", ns, clone.Name, err)
			}
			return created, nil
		}
		exists, err := client.ControllerRevisions(ns).Get(ctx, clone.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading colliding controller revision %s/%s: %w", ns, clone.Name, err)
		}
		if bytes.Equal(exists.Data.Raw, clone.Data.Raw) {
			return exists, nil
		}
		*collisionCount++
	}
}

// UpdateRevision sets revision's number to n (a rollback to an old
// revision makes it the newest again).
func UpdateRevision(ctx context.Context, client appsclient.ControllerRevisionsGetter,
	revision *appsv1.ControllerRevision, n int64) (*appsv1.ControllerRevision, error) {
	if revision.Revision == n {
		return revision, nil
	}
	clone := revision.DeepCopy()
	clone.Revision = n
	updated, err := client.ControllerRevisions(clone.Namespace).Update(ctx, clone, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("updating controller revision %s/%s: %w", clone.Namespace, clone.Name, err)
	}
	return updated, nil
}

// Truncate deletes the oldest revisions that are not live until at most
// limit non-live ones remain. live says which revisions must stay
// (current, update, or still labelling some pod).
func Truncate(ctx context.Context, client appsclient.ControllerRevisionsGetter,
	revisions []*appsv1.ControllerRevision, live func(*appsv1.ControllerRevision) bool, limit int) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live(r) {
			old = append(old, r)
		}
	}
	if len(old) <= limit {
		return nil
	}
	Sort(old)
	for _, r := range old[:len(old)-limit] {
		err := client.ControllerRevisions(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting controller revision %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	return nil
}
