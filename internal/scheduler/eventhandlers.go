package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	toolscache "k8s.io/client-go/tools/cache"
)

// addEventHandlers routes informer events: pending pods to the queue,
// bound pods and nodes to the cache, and, for events that could make a
// parked pod schedulable, a move of the parked pods back to the queue.
func (s *Scheduler) addEventHandlers(pods, nodes toolscache.SharedIndexInformer) error {
	// Pending pods this scheduler is responsible for. A pod that gets a
	// node leaves this filter, which the informer turns into a delete.
	if _, err := pods.AddEventHandler(toolscache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := podOf(obj)
			return ok && podToSchedule(p)
		},
		Handler: toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.queue.add(obj.(*corev1.Pod)) },
			UpdateFunc: func(_, obj any) { s.queue.update(obj.(*corev1.Pod)) },
			DeleteFunc: func(obj any) {
				if p, ok := podOf(obj); ok {
					s.queue.remove(p)
				}
			},
		},
	}); err != nil {
		return fmt.Errorf("pod queue handler: %w", err)
	}
	// Pods on nodes: they hold resources until they are deleted or
	// finish (a Succeeded or Failed pod's containers are gone).
	if _, err := pods.AddEventHandler(toolscache.FilteringResourceEventHandler{
		FilterFunc: func(obj any) bool {
			p, ok := podOf(obj)
			return ok && p.Spec.NodeName != "" && !podFinished(p)
		},
		Handler: toolscache.ResourceEventHandlerFuncs{
			AddFunc: func(obj any) {
				p := obj.(*corev1.Pod)
				s.cache.addPod(p)
				s.queue.remove(p)
				s.queue.moveAll(hasPodAffinityOrSpread)
			},
			UpdateFunc: func(oldObj, obj any) {
				old, p := oldObj.(*corev1.Pod), obj.(*corev1.Pod)
				s.cache.addPod(p)
				if !equality.Semantic.DeepEqual(old.Labels, p.Labels) {
					s.queue.moveAll(nil)
				}
			},
			DeleteFunc: func(obj any) {
				if p, ok := podOf(obj); ok {
					s.cache.removePod(p)
					s.queue.moveAll(nil)
				}
			},
		},
	}); err != nil {
		return fmt.Errorf("pod cache handler: %w", err)
	}
	if _, err := nodes.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			s.cache.addNode(obj.(*corev1.Node))
			s.queue.moveAll(nil)
		},
		UpdateFunc: func(oldObj, obj any) {
			old, n := oldObj.(*corev1.Node), obj.(*corev1.Node)
			s.cache.addNode(n)
			if nodeSchedulingChanged(old, n) {
				s.queue.moveAll(nil)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				s.cache.removeNode(n.Name)
			}
		},
	}); err != nil {
		return fmt.Errorf("node handler: %w", err)
	}
	return nil
}

func podOf(obj any) (*corev1.Pod, bool) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	p, ok := obj.(*corev1.Pod)
	return p, ok
}

func podFinished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// hasPodAffinityOrSpread: only such pods can start fitting because
// another pod arrived somewhere.
func hasPodAffinityOrSpread(p *corev1.Pod) bool {
	a := p.Spec.Affinity
	return len(p.Spec.TopologySpreadConstraints) > 0 || (a != nil && a.PodAffinity != nil)
}

// nodeSchedulingChanged reports changes that filters look at; the
// heartbeats that rewrite a node every few seconds are not among them.
func nodeSchedulingChanged(old, n *corev1.Node) bool {
	return old.Spec.Unschedulable != n.Spec.Unschedulable ||
		!equality.Semantic.DeepEqual(old.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, n.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, n.Status.Allocatable)
}
