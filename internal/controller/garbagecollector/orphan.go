package garbagecollector

import (
	"context"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// attemptToOrphanItem carries out an orphan deletion: every dependent loses
// its reference to the owner, and then the owner loses the "orphan"
// finalizer so that the API server can delete it.
func (gc *GarbageCollector) attemptToOrphanItem(ctx context.Context, n *node) error {
	if !gc.graph.current(n) {
		return nil
	}
	s := gc.graph.snapshot(n)
	var errs []error
	for _, d := range s.dependentIDs {
		if err := gc.removeOwnerRefs(ctx, d, s.id.UID); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	gc.log.Info("dependents orphaned; removing the orphan finalizer", "item", s.id.String(), "dependents", len(s.dependentIDs))
	return gc.removeFinalizer(ctx, s.id, metav1.FinalizerOrphanDependents)
}
