package daemonset

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/controller/reconcile"
)

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

func (c *Controller) deleteDaemonSet(obj any) {
	if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
		c.expectations.Delete(key)
		c.mu.Lock()
		delete(c.deleting, key)
		c.mu.Unlock()
		c.queue.Add(key)
	}
}

// controllerOf is the daemon set that ref names in namespace, if it is
// the one in the cache (same UID).
func (c *Controller) controllerOf(namespace string, ref *metav1.OwnerReference) *appsv1.DaemonSet {
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil
	}
	ds, err := c.dsLister.DaemonSets(namespace).Get(ref.Name)
	if err != nil || ds.UID != ref.UID {
		return nil
	}
	return ds
}

// setsSelecting are the daemon sets whose selector matches an orphan;
// they may want to adopt it.
func (c *Controller) setsSelecting(namespace string, lbls map[string]string) []*appsv1.DaemonSet {
	sets, err := c.dsLister.DaemonSets(namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []*appsv1.DaemonSet
	for _, ds := range sets {
		sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(lbls)) {
			continue
		}
		out = append(out, ds)
	}
	return out
}

func (c *Controller) revisionChanged(obj any) {
	rev, ok := reconcile.ObjectOf[*appsv1.ControllerRevision](obj)
	if !ok {
		return
	}
	if ds := c.controllerOf(rev.Namespace, metav1.GetControllerOfNoCopy(rev)); ds != nil {
		c.enqueue(ds)
		return
	}
	if metav1.GetControllerOfNoCopy(rev) == nil {
		for _, ds := range c.setsSelecting(rev.Namespace, rev.Labels) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if ref := metav1.GetControllerOfNoCopy(pod); ref != nil {
		if ds := c.controllerOf(pod.Namespace, ref); ds != nil {
			if key, err := cache.MetaNamespaceKeyFunc(ds); err == nil {
				c.expectations.CreationObserved(key)
				c.queue.Add(key)
			}
		}
		return
	}
	for _, ds := range c.setsSelecting(pod.Namespace, pod.Labels) {
		c.enqueue(ds)
	}
}

func (c *Controller) updatePod(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Pod), curObj.(*corev1.Pod)
	if old.ResourceVersion == cur.ResourceVersion {
		return
	}
	if cur.DeletionTimestamp != nil {
		c.deletePod(cur)
		return
	}
	oldRef, curRef := metav1.GetControllerOfNoCopy(old), metav1.GetControllerOfNoCopy(cur)
	if oldRef != nil && (curRef == nil || oldRef.UID != curRef.UID) {
		if ds := c.controllerOf(old.Namespace, oldRef); ds != nil {
			c.enqueue(ds)
		}
	}
	if curRef != nil {
		ds := c.controllerOf(cur.Namespace, curRef)
		if ds == nil {
			return
		}
		c.enqueue(ds)
		// A pod that just became ready becomes available minReadySeconds
		// later; look again then.
		if ds.Spec.MinReadySeconds > 0 && !podReady(old) && podReady(cur) {
			c.enqueueAfter(ds, secondsDuration(ds.Spec.MinReadySeconds))
		}
		return
	}
	if !equality.Semantic.DeepEqual(old.Labels, cur.Labels) || oldRef != nil {
		for _, ds := range c.setsSelecting(cur.Namespace, cur.Labels) {
			c.enqueue(ds)
		}
	}
}

func (c *Controller) deletePod(obj any) {
	pod, ok := reconcile.ObjectOf[*corev1.Pod](obj)
	if !ok {
		return
	}
	ds := c.controllerOf(pod.Namespace, metav1.GetControllerOfNoCopy(pod))
	if ds == nil {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(ds)
	if err != nil {
		return
	}
	c.deletionObserved(key, pod.Name)
	c.queue.Add(key)
}

// expectDeletion notes that we asked to delete pod name for set key.
func (c *Controller) expectDeletion(key, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.deleting[key] == nil {
		c.deleting[key] = map[string]bool{}
	}
	c.deleting[key][name] = true
}

// deletionObserved counts a deletion we asked for once, whether it shows
// as a deletion timestamp, the final delete, or both.
func (c *Controller) deletionObserved(key, name string) {
	c.mu.Lock()
	pending := c.deleting[key][name]
	delete(c.deleting[key], name)
	c.mu.Unlock()
	if pending {
		c.expectations.DeletionObserved(key)
	}
}

func (c *Controller) addNode(obj any) {
	node := obj.(*corev1.Node)
	sets, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		if run, _ := shouldRun(node, ds); run {
			c.enqueue(ds)
		}
	}
}

// updateNode enqueues the sets whose verdict on the node changed (labels,
// taints, unschedulable); heartbeats change nothing.
func (c *Controller) updateNode(oldObj, curObj any) {
	old, cur := oldObj.(*corev1.Node), curObj.(*corev1.Node)
	if equality.Semantic.DeepEqual(old.Labels, cur.Labels) && equality.Semantic.DeepEqual(old.Spec, cur.Spec) {
		return
	}
	sets, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		oldRun, oldCont := shouldRun(old, ds)
		curRun, curCont := shouldRun(cur, ds)
		if oldRun != curRun || oldCont != curCont {
			c.enqueue(ds)
		}
	}
}

// deleteNode enqueues every set: their pods on the node must go.
func (c *Controller) deleteNode(any) {
	sets, err := c.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range sets {
		c.enqueue(ds)
	}
}
