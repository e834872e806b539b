package apiserver

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	servicesGVR  = corev1.SchemeGroupVersion.WithResource("services")
	endpointsGVR = corev1.SchemeGroupVersion.WithResource("endpoints")
)

// serviceHooks are the server-side steps of services: the cluster IP and
// node port allocators (services_alloc.go) and, on delete, the removal of
// the Service's Endpoints. Until repairServices runs at start, the
// allocators are empty.
func (s *Server) serviceHooks() *hooks {
	alloc, err := newServiceAllocator(s.cfg.ServiceCIDR, s.cfg.NodePortRange)
	if err != nil {
		return s.serviceHooksOver(nil, err)
	}
	return s.serviceHooksOver(alloc, nil)
}

// serviceHooksOver are the service hooks over one set of allocators; a
// configuration error fails every service write.
func (s *Server) serviceHooksOver(alloc *serviceAllocator, cfgErr error) *hooks {
	res, ok := s.cfg.Registry.Lookup(servicesGVR)
	if !ok {
		return &hooks{}
	}
	return &hooks{
		admit: func(ctx context.Context, obj, old runtime.Object, sub string) (func(), error) {
			if sub != "" {
				return nil, nil // status writes keep the spec
			}
			if cfgErr != nil {
				return nil, apierrors.NewInternalError(cfgErr)
			}
			svc := obj.(*corev1.Service)
			// Upstream checks the cluster IP fields before it allocates;
			// checking everything keeps the allocators away from what
			// validation will refuse anyway.
			var errs field.ErrorList
			if old == nil {
				errs = res.Validate(obj)
			} else {
				errs = validateUpdate(res, obj, old)
			}
			if len(errs) > 0 {
				return nil, invalid(res, svc.Name, errs)
			}
			var al allocation
			var err error
			if old == nil {
				al, err = alloc.allocateCreate(svc)
			} else {
				al, err = alloc.allocateUpdate(svc, old.(*corev1.Service))
			}
			if err != nil {
				return nil, err
			}
			return func() { alloc.undo(al) }, nil
		},
		written: func(ctx context.Context, obj, old runtime.Object) {
			if cfgErr != nil || old == nil {
				return
			}
			prev := old.(*corev1.Service)
			if obj != nil {
				alloc.releaseUnused(obj.(*corev1.Service), prev)
				return
			}
			alloc.releaseAll(prev)
			s.deleteServiceEndpoints(ctx, prev)
		},
	}
}

// deleteServiceEndpoints deletes a deleted Service's Endpoints, as
// upstream's service storage does, so that a Service re-created under the
// same name does not start with stale ones.
func (s *Server) deleteServiceEndpoints(ctx context.Context, svc *corev1.Service) {
	res, ok := s.cfg.Registry.Lookup(endpointsGVR)
	if !ok {
		return
	}
	_, _, err := s.deleteObject(ctx, res, svc.Namespace, svc.Name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		s.log.Error("deleting the endpoints of a deleted service", "namespace", svc.Namespace, "name", svc.Name, "err", err)
	}
}

// repairServices rebuilds the allocators from every stored Service, as
// upstream's repair controllers do at start, and serves the service hooks
// over them from now on. It runs before the server accepts connections.
func (s *Server) repairServices(ctx context.Context) error {
	res, ok := s.cfg.Registry.Lookup(servicesGVR)
	if !ok {
		return nil
	}
	alloc, err := newServiceAllocator(s.cfg.ServiceCIDR, s.cfg.NodePortRange)
	if err != nil {
		return fmt.Errorf("services: %w", err)
	}
	objs, _, err := s.listObjects(ctx, res, "", listQuery{})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("services: repair: %w", err)
	}
	for _, obj := range objs {
		svc := obj.(*corev1.Service)
		for _, problem := range alloc.restore(svc) {
			// Upstream's repair reports these and leaves them to the user.
			s.log.Warn("service allocation needs repair; please recreate the service",
				"namespace", svc.Namespace, "name", svc.Name, "err", problem)
		}
	}
	s.hooks[res.GVR] = s.serviceHooksOver(alloc, nil)
	return nil
}
