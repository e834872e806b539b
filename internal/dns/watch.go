package dns

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// watch registers the index's handlers on the Service and EndpointSlice
// informers. Each event rebuilds one Service's records at once, on the
// informer's goroutine, so answers follow the API as soon as the watch
// delivers.
func (s *Server) watch() error {
	svcs := s.cfg.Informers.Core().V1().Services().Informer()
	svcReg, err := svcs.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.onService(obj, false) },
		UpdateFunc: func(_, obj any) { s.onService(obj, false) },
		DeleteFunc: func(obj any) { s.onService(obj, true) },
	})
	if err != nil {
		return fmt.Errorf("dns: watch Services: %w", err)
	}
	slices := s.cfg.Informers.Discovery().V1().EndpointSlices().Informer()
	sliceReg, err := slices.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { s.onSlice(nil, obj) },
		UpdateFunc: func(old, obj any) {
			s.onSlice(old, obj)
		},
		DeleteFunc: func(obj any) { s.onSlice(obj, nil) },
	})
	if err != nil {
		return fmt.Errorf("dns: watch EndpointSlices: %w", err)
	}
	s.synced = []cache.InformerSynced{svcReg.HasSynced, sliceReg.HasSynced}
	return nil
}

func (s *Server) onService(obj any, deleted bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	if deleted {
		svc = nil
	}
	s.ix.setService(key, svc)
}

// onSlice handles an EndpointSlice going from old to cur (nil: absent). A
// slice belongs to the Service its kubernetes.io/service-name label names;
// should the label change, the slice leaves the old Service.
func (s *Server) onSlice(old, cur any) {
	oldSlice, curSlice := asSlice(old), asSlice(cur)
	if oldSlice != nil {
		if k, ok := sliceService(oldSlice); ok {
			if nk, nok := sliceService(curSlice); !nok || nk != k {
				s.ix.setSlice(k, oldSlice.Name, nil)
			}
		}
	}
	if k, ok := sliceService(curSlice); ok {
		s.ix.setSlice(k, curSlice.Name, curSlice)
	}
}

func asSlice(obj any) *discoveryv1.EndpointSlice {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	es, _ := obj.(*discoveryv1.EndpointSlice)
	return es
}

func sliceService(es *discoveryv1.EndpointSlice) (types.NamespacedName, bool) {
	if es == nil {
		return types.NamespacedName{}, false
	}
	name := es.Labels[discoveryv1.LabelServiceName]
	return types.NamespacedName{Namespace: es.Namespace, Name: name}, name != ""
}
