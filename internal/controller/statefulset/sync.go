package statefulset

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/controller/owned"
)

// sync brings one stateful set one step closer to its spec and records
// its status.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	set, err := c.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting stateful set %s: %w", key, err)
	}
	set = set.DeepCopy()
	revs, err := c.controlledRevisions(ctx, set)
	if err != nil {
		return err
	}
	pods, err := c.setPods(ctx, set)
	if err != nil {
		return err
	}
	cur, upd, collisions, err := c.revisions(ctx, set, revs)
	if err != nil {
		return err
	}
	status, err := c.update(ctx, set, cur, upd, collisions, pods)
	if status != nil {
		if statusErr := c.storeStatus(ctx, set, status); statusErr != nil {
			err = errors.Join(err, statusErr)
		}
	}
	if truncErr := c.truncateHistory(ctx, set, pods, revs, cur, upd); truncErr != nil {
		err = errors.Join(err, truncErr)
	}
	if err != nil {
		return err
	}
	if set.Spec.MinReadySeconds > 0 && status != nil && status.AvailableReplicas != int32(replicas(set)) {
		c.enqueueAfter(set, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return nil
}

// setPods are the pods the set owns: those whose name says they are its
// members, adopted or released by selector.
func (c *Controller) setPods(ctx context.Context, set *appsv1.StatefulSet) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("stateful set selector: %w", err)
	}
	all, err := c.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var members []*corev1.Pod
	for _, p := range all {
		if isMemberOf(set, p) {
			members = append(members, p)
		}
	}
	claimer := &owned.Claimer{
		Controller: set, Kind: controllerKind, Selector: sel,
		Patch: func(ctx context.Context, ns, name string, patch []byte) error {
			_, err := c.client.CoreV1().Pods(ns).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: c.recheck(set),
	}
	return owned.Claim(ctx, claimer, members)
}

func (c *Controller) recheck(set *appsv1.StatefulSet) func(context.Context) error {
	return owned.RecheckDeletion(set, func(ctx context.Context) (metav1.Object, error) {
		return c.client.AppsV1().StatefulSets(set.Namespace).Get(ctx, set.Name, metav1.GetOptions{})
	})
}
