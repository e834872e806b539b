package endpointutil

import (
	"fmt"
	"log/slog"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// PodServiceMemberships returns the keys (namespace/name) of the services
// whose selector matches pod. Services without a selector are skipped:
// their endpoints are written by someone else.
func PodServiceMemberships(lister corelisters.ServiceLister, pod *corev1.Pod) (sets.Set[string], error) {
	out := sets.New[string]()
	services, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return out, fmt.Errorf("listing services of namespace %s: %w", pod.Namespace, err)
	}
	for _, svc := range services {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.Set(svc.Spec.Selector).AsSelectorPreValidated().Matches(labels.Set(pod.Labels)) {
			key, err := cache.MetaNamespaceKeyFunc(svc)
			if err != nil {
				return out, err
			}
			out.Insert(key)
		}
	}
	return out, nil
}

// ServicesToUpdateOnPodChange returns the services a pod update concerns:
// none when nothing an endpoint shows changed; the pod's services when its
// address, readiness, hostname or deletion changed; and those it joined or
// left when its labels changed.
func ServicesToUpdateOnPodChange(lister corelisters.ServiceLister, oldPod, newPod *corev1.Pod) (sets.Set[string], error) {
	if newPod.ResourceVersion == oldPod.ResourceVersion {
		// A resync delivers the same object again.
		return sets.New[string](), nil
	}
	podChanged, labelsChanged := podEndpointsChanged(oldPod, newPod)
	if !podChanged && !labelsChanged {
		return sets.New[string](), nil
	}
	services, err := PodServiceMemberships(lister, newPod)
	if err != nil {
		return services, err
	}
	if !labelsChanged {
		return services, nil
	}
	oldServices, err := PodServiceMemberships(lister, oldPod)
	if err != nil {
		return services, err
	}
	if podChanged {
		return services.Union(oldServices), nil
	}
	// Only membership moved: the services the pod joined or left.
	return services.Difference(oldServices).Union(oldServices.Difference(services)), nil
}

// podEndpointsChanged reports whether what an endpoint shows of the pod
// changed, and whether its labels (its service memberships) did. Name,
// namespace, UID and (once set) nodeName are immutable. Upstream counts a
// hostname change as a label change, which then reaches no service the
// pod stays in; here it is an endpoint change.
func podEndpointsChanged(oldPod, newPod *corev1.Pod) (podChanged, labelsChanged bool) {
	labelsChanged = !reflect.DeepEqual(newPod.Labels, oldPod.Labels)
	switch {
	case newPod.Spec.Hostname != oldPod.Spec.Hostname, newPod.Spec.Subdomain != oldPod.Spec.Subdomain,
		!newPod.DeletionTimestamp.Equal(oldPod.DeletionTimestamp),
		IsPodReady(oldPod) != IsPodReady(newPod),
		oldPod.Status.Phase != newPod.Status.Phase,
		oldPod.Spec.NodeName != newPod.Spec.NodeName,
		!reflect.DeepEqual(PodIPs(oldPod), PodIPs(newPod)):
		return true, labelsChanged
	}
	return false, labelsChanged
}

// PodFromDeleteAction returns the pod of a delete notification, which may
// be a tombstone when the watch missed the deletion.
func PodFromDeleteAction(obj any) *corev1.Pod {
	if pod, ok := obj.(*corev1.Pod); ok {
		return pod
	}
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		if pod, ok := tombstone.Obj.(*corev1.Pod); ok {
			return pod
		}
	}
	return nil
}

// PodHandler queues the keys of the services whose endpoints a pod event
// may change: the pod's services when it is added or deleted, and on an
// update those ServicesToUpdateOnPodChange returns. The endpoints and
// endpointslice controllers both register it on the pod informer.
func PodHandler(services corelisters.ServiceLister, q workqueue.TypedInterface[string], log *slog.Logger) cache.ResourceEventHandlerFuncs {
	add := func(keys sets.Set[string], err error, pod *corev1.Pod) {
		if err != nil {
			log.Warn("finding the services of a pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		for key := range keys {
			q.Add(key)
		}
	}
	addPod := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			keys, err := PodServiceMemberships(services, pod)
			add(keys, err, pod)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: addPod,
		UpdateFunc: func(oldObj, newObj any) {
			oldPod, ok1 := oldObj.(*corev1.Pod)
			newPod, ok2 := newObj.(*corev1.Pod)
			if !ok1 || !ok2 {
				return
			}
			keys, err := ServicesToUpdateOnPodChange(services, oldPod, newPod)
			add(keys, err, newPod)
		},
		DeleteFunc: func(obj any) {
			if pod := PodFromDeleteAction(obj); pod != nil {
				addPod(pod)
			}
		},
	}
}
