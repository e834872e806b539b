package statefulset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"mini.dev/mini/internal/controller/reconcile"
)

// controllerOf is the set ref names, if it is the one in the cache.
func (c *Controller) controllerOf(namespace string, ref *metav1.OwnerReference) *appsv1.StatefulSet {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	set, err := c.setLister.StatefulSets(namespace).Get(ref.Name)
	if err != nil || set.UID != ref.UID {
		return nil
	}
	return set
}

// setsSelecting are the sets that may adopt an orphan pod.
func (c *Controller) setsSelecting(pod *corev1.Pod) []*appsv1.StatefulSet {
	sets, err := c.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.StatefulSet
	for _, s := range sets {
		sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(pod.Labels)) {
			out = append(out, s)
		}
	}
	return out
}

func (c *Controller) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.podDeleted(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if set := c.controllerOf(pod.Namespace, ref); set != nil {
			c.enqueue(set)
		}
		return
	}
	for _, s := range c.setsSelecting(pod) {
		c.enqueue(s)
	}
}

func (c *Controller) podUpdated(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if set := c.controllerOf(old.Namespace, oldRef); set != nil {
			c.enqueue(set)
		}
	}
	if curRef != nil {
		set := c.controllerOf(cur.Namespace, curRef)
		if set == nil {
			return
		}
		c.enqueue(set)
		// Ready now, available minReadySeconds later: look again then.
		if set.Spec.MinReadySeconds > 0 && !isRunningAndReady(old) && isRunningAndReady(cur) {
			c.enqueueAfter(set, time.Duration(set.Spec.MinReadySeconds)*time.Second)
		}
		return
	}
	if !equality.Semantic.DeepEqual(old.Labels, cur.Labels) || oldRef != nil {
		for _, s := range c.setsSelecting(cur) {
			c.enqueue(s)
		}
	}
}

func (c *Controller) podDeleted(obj any) {
	pod, ok := reconcile.ObjectOf[*corev1.Pod](obj)
	if !ok {
		return
	}
	if set := c.controllerOf(pod.Namespace, metav1.GetControllerOfNoCopy(pod)); set != nil {
		c.enqueue(set)
	}
}
