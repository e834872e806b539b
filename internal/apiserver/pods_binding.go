package apiserver

// pods/binding is how a scheduler assigns a pod to a node, as upstream's
// BindingREST serves it: a v1 Binding names the pod (and optionally its
// UID and resourceVersion, which must match) and the node. The pod gets
// spec.nodeName, the binding's annotations and labels, and the condition
// PodScheduled=True, in one write guarded by the revision read. The pod
// strategy's rules do not apply: nodeName is otherwise immutable.

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

var bindingGVK = corev1.SchemeGroupVersion.WithKind("Binding")

// serveBinding answers POST pods/NAME/binding.
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if err := onlyCreate(res, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	dry, err := dryRun(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeSubresourceBody(r, bindingGVK)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	binding, ok := obj.(*corev1.Binding)
	if !ok {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("not a Binding object: %T", obj)))
		return
	}
	if err := subresourceNamespace(binding, info.Namespace); err != nil {
		s.writeError(w, r, err)
		return
	}
	if binding.Name != info.Name {
		s.writeError(w, r, apierrors.NewBadRequest("name in URL does not match name in Binding object"))
		return
	}
	if errs := validateBinding(binding); len(errs) > 0 {
		s.writeError(w, r, apierrors.NewInvalid(bindingGVK.GroupKind(), binding.Name, errs))
		return
	}
	if err := s.bindPod(r.Context(), res, binding, dry); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeCreatedStatus(w, r)
}

// validateBinding is upstream's ValidatePodBinding.
func validateBinding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// bindPod assigns the pod, retrying when another writer wins the race. A
// pod that cannot be bound is upstream's 409 on pods/binding.
func (s *Server) bindPod(ctx context.Context, res *registry.Resource, b *corev1.Binding, dry bool) error {
	key := objectKey(res, b.Namespace, b.Name)
	var pre *metav1.Preconditions
	if b.UID != "" || b.ResourceVersion != "" {
		pre = &metav1.Preconditions{}
		if b.UID != "" {
			pre.UID = &b.UID
		}
		if b.ResourceVersion != "" {
			pre.ResourceVersion = &b.ResourceVersion
		}
	}
	for attempt := 1; ; attempt++ {
		kv, err := s.cfg.Store.Get(ctx, key)
		if err != nil {
			return storeError(err, res.GVR.GroupResource(), b.Name)
		}
		obj, err := s.decodeObject(res, kv)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		cur := obj.(*corev1.Pod)
		if err := checkPreconditions(res, b.Name, cur, pre); err != nil {
			return err
		}
		pod := cur.DeepCopy()
		if err := assignPod(pod, b); err != nil {
			return apierrors.NewConflict(corev1.Resource("pods/binding"), b.Name, err)
		}
		if dry {
			return nil
		}
		value, err := s.encodeObject(res, pod)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		written, err := s.cfg.Store.Update(ctx, key, value, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return storeError(err, res.GVR.GroupResource(), b.Name)
		}
		setResourceVersion(pod, written.ModRevision)
		s.hooksOf(res).runWritten(ctx, pod, cur)
		return nil
	}
}

// assignPod is the change a binding makes, or why it cannot.
func assignPod(pod *corev1.Pod, b *corev1.Binding) error {
	switch {
	case pod.DeletionTimestamp != nil:
		return fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", pod.Name)
	case pod.Spec.NodeName != "":
		return fmt.Errorf("pod %v is already assigned to node %q", pod.Name, pod.Spec.NodeName)
	case len(pod.Spec.SchedulingGates) != 0:
		return fmt.Errorf("pod %v has non-empty .spec.schedulingGates", pod.Name)
	}
	pod.Spec.NodeName = b.Target.Name
	pod.Status.NominatedNodeName = "" // the nomination has served its purpose
	if len(b.Annotations) > 0 && pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	for k, v := range b.Annotations {
		pod.Annotations[k] = v
	}
	if len(b.Labels) > 0 && pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	for k, v := range b.Labels {
		pod.Labels[k] = v
	}
	updatePodCondition(&pod.Status, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue})
	return nil
}

// updatePodCondition sets a condition as upstream's UpdatePodCondition
// does: its transition time moves only when its status changes. It
// reports whether anything changed.
func updatePodCondition(status *corev1.PodStatus, c corev1.PodCondition) bool {
	c.LastTransitionTime = metav1.Now()
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if c.Status == old.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		same := c.Status == old.Status && c.Reason == old.Reason && c.Message == old.Message &&
			c.LastProbeTime.Equal(&old.LastProbeTime) && c.LastTransitionTime.Equal(&old.LastTransitionTime)
		*old = c
		return !same
	}
	status.Conditions = append(status.Conditions, c)
	return true
}
