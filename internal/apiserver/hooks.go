package apiserver

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

// hooks are one resource's server-side steps around its writes: what
// upstream does in its REST storage and admission beyond the generic
// strategy (allocating Service IPs, admitting pods, graceful pod
// deletion, special subresources). Every field is optional.
type hooks struct {
	// admit runs on create (old nil) and update after the strategy's
	// preparation and before validation, and may change obj. The undo it
	// returns (may be nil) is called when the write does not happen
	// (dry run, failed validation, conflict, store error).
	admit func(ctx context.Context, obj, old runtime.Object, sub string) (undo func(), err error)
	// written runs after a write is stored: obj is the new state (nil when
	// the object is gone), old the previous one (nil when created).
	written func(ctx context.Context, obj, old runtime.Object)
	// gracePeriod decides a delete: the seconds to wait, and whether the
	// object stays, marked, until whoever runs it finishes (a pod on a
	// node) instead of going at once.
	gracePeriod func(obj runtime.Object, opts metav1.DeleteOptions) (seconds int64, graceful bool)
	// subresources serves the subresources that are not plain writes of
	// the object (pods/binding, pods/eviction, serviceaccounts/token).
	subresources map[string]subresourceHandler
	// read serves get, list and watch of a resource that is synthesized
	// on every read instead of stored (componentstatuses).
	read subresourceHandler
}

type subresourceHandler func(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo)

// resourceHooks lists every resource's hooks; each family's hooks live in
// its own file.
func (s *Server) resourceHooks() map[schema.GroupVersionResource]*hooks {
	return map[schema.GroupVersionResource]*hooks{
		corev1.SchemeGroupVersion.WithResource("services"):        s.serviceHooks(),
		corev1.SchemeGroupVersion.WithResource("pods"):            s.podHooks(),
		corev1.SchemeGroupVersion.WithResource("serviceaccounts"): s.serviceAccountHooks(),
		namespacesGVR:      s.namespaceHooks(),
		priorityClassesGVR: s.priorityClassHooks(),
		corev1.SchemeGroupVersion.WithResource("componentstatuses"): s.componentStatusHooks(),
	}
}

// hooksOf returns a resource's hooks; never nil.
func (s *Server) hooksOf(res *registry.Resource) *hooks {
	if h := s.hooks[res.GVR]; h != nil {
		return h
	}
	return &hooks{}
}

func (h *hooks) runAdmit(ctx context.Context, obj, old runtime.Object, sub string) (func(), error) {
	noop := func() {}
	if h.admit == nil {
		return noop, nil
	}
	undo, err := h.admit(ctx, obj, old, sub)
	if undo == nil {
		undo = noop
	}
	return undo, err
}

func (h *hooks) runWritten(ctx context.Context, obj, old runtime.Object) {
	if h.written != nil {
		h.written(ctx, obj, old)
	}
}
