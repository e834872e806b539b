package statefulset

import (
	"context"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"mini.dev/mini/internal/controller/history"
	"mini.dev/mini/internal/controller/owned"
)

// controlledRevisions are the set's revisions after adopting orphans that
// match its selector, oldest first.
func (c *Controller) controlledRevisions(ctx context.Context, set *appsv1.StatefulSet) ([]*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("stateful set selector: %w", err)
	}
	revs, err := c.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing controller revisions: %w", err)
	}
	claimer := &owned.Claimer{
		Controller: set, Kind: controllerKind, Selector: sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.AppsV1().ControllerRevisions(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: c.recheck(set),
	}
	claimed, err := owned.Claim(ctx, claimer, revs)
	if err != nil {
		return nil, err
	}
	history.Sort(claimed)
	return claimed, nil
}

// newRevision snapshots set's template as revision number n.
func newRevision(set *appsv1.StatefulSet, n int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	patch, err := history.TemplatePatch(set)
	if err != nil {
		return nil, err
	}
	cr := history.New(set, controllerKind, set.Spec.Template.Labels, patch, n, collisionCount)
	// The set's annotations (kubernetes.io/change-cause) are what
	// `kubectl rollout history` shows per revision.
	if len(set.Annotations) > 0 && cr.Annotations == nil {
		cr.Annotations = map[string]string{}
	}
	for k, v := range set.Annotations {
		cr.Annotations[k] = v
	}
	return cr, nil
}

// applyRevision is set with its template restored from revision.
func applyRevision(set *appsv1.StatefulSet, revision *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	clone := set.DeepCopy()
	orig, err := json.Marshal(clone)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, revision.Data.Raw, clone)
	if err != nil {
		return nil, fmt.Errorf("applying revision %s: %w", revision.Name, err)
	}
	restored := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, restored); err != nil {
		return nil, fmt.Errorf("applying revision %s: %w", revision.Name, err)
	}
	return restored, nil
}

// revisions returns the current revision (what status.currentRevision
// names, or the update revision for a new set), the update revision (the
// set's template: the newest equal revision, renumbered as newest if it
// was an older one, i.e. a rollback, or a new one), and the collision
// count used.
func (c *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (cur, upd *appsv1.ControllerRevision, collisions int32, err error) {
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	upd, err = newRevision(set, history.NextRevision(revs), &collisions)
	if err != nil {
		return nil, nil, 0, err
	}
	equal := history.FindEqual(revs, upd)
	switch {
	case len(equal) > 0 && history.Equal(revs[len(revs)-1], equal[len(equal)-1]):
		upd = revs[len(revs)-1]
	case len(equal) > 0:
		upd, err = history.UpdateRevision(ctx, c.client.AppsV1(), equal[len(equal)-1], upd.Revision)
	default:
		upd, err = history.Create(ctx, c.client.AppsV1(), set, upd, &collisions)
	}
	if err != nil {
		return nil, nil, 0, err
	}
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			cur = r
			break
		}
	}
	if cur == nil {
		cur = upd
	}
	return cur, upd, collisions, nil
}

// truncateHistory deletes the oldest revisions beyond the history limit
// that are neither current, update, nor worn by a pod.
func (c *Controller) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod,
	revs []*appsv1.ControllerRevision, cur, upd *appsv1.ControllerRevision) error {
	live := map[string]bool{}
	if cur != nil {
		live[cur.Name] = true
	}
	if upd != nil {
		live[upd.Name] = true
	}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	limit := history.DefaultHistoryLimit
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	return history.Truncate(ctx, c.client.AppsV1(), revs, func(r *appsv1.ControllerRevision) bool { return live[r.Name] }, limit)
}
