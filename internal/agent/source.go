package agent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Handler receives the agent's API objects. Calls must be cheap and never
// block: the agent only records the object and queues work.
type Handler interface {
	// OnPod is called for every add or update of a pod bound to the node.
	OnPod(pod *corev1.Pod)
	// OnPodDelete is called when a pod is gone from the API.
	OnPodDelete(pod *corev1.Pod)
	// OnNode is called with every version of the agent's Node.
	OnNode(node *corev1.Node)
	// OnSynced is called once the initial pods have all been delivered, so
	// the agent may treat runtime pods it has not heard of as gone.
	OnSynced()
}

// Source feeds one agent's Handler until ctx ends. Run returns nil when
// ctx ends.
type Source interface {
	Run(ctx context.Context, h Handler) error
}

// InformerSource is the Source of a lone agent: informers on its own pods
// (field selector spec.nodeName=<node>) and its own Node, as kubelet
// watches them.
type InformerSource struct {
	Client   kubernetes.Interface
	NodeName string
	// Resync is the informers' resync period (0: none).
	Resync time.Duration
}

// Run implements Source.
func (s *InformerSource) Run(ctx context.Context, h Handler) error {
	pods := informers.NewSharedInformerFactoryWithOptions(s.Client, s.Resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", s.NodeName).String()
		}))
	nodes := informers.NewSharedInformerFactoryWithOptions(s.Client, s.Resync,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.NodeName).String()
		}))
	if _, err := pods.Core().V1().Pods().Informer().AddEventHandler(PodHandlerFuncs(func(string) Handler { return h })); err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	if _, err := nodes.Core().V1().Nodes().Informer().AddEventHandler(NodeHandlerFuncs(func(string) Handler { return h })); err != nil {
		return fmt.Errorf("node informer: %w", err)
	}
	pods.Start(ctx.Done())
	nodes.Start(ctx.Done())
	defer pods.Shutdown()
	defer nodes.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), pods.Core().V1().Pods().Informer().HasSynced) {
		return nil
	}
	h.OnSynced()
	<-ctx.Done()
	return nil
}

// PodHandlerFuncs adapts informer callbacks to Handlers, looked up by the
// pod's spec.nodeName (nil: no agent for that node). A pod that leaves a
// node (it cannot, spec.nodeName is immutable, but a relist may show it
// gone) is reported deleted.
func PodHandlerFuncs(lookup func(node string) Handler) cache.ResourceEventHandlerFuncs {
	deliver := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Spec.NodeName == "" {
			return
		}
		if h := lookup(pod.Spec.NodeName); h != nil {
			h.OnPod(pod)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    deliver,
		UpdateFunc: func(_, obj any) { deliver(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			pod, ok := obj.(*corev1.Pod)
			if !ok || pod.Spec.NodeName == "" {
				return
			}
			if h := lookup(pod.Spec.NodeName); h != nil {
				h.OnPodDelete(pod)
			}
		},
	}
}

// NodeHandlerFuncs adapts node informer callbacks to Handlers, looked up
// by node name.
func NodeHandlerFuncs(lookup func(node string) Handler) cache.ResourceEventHandlerFuncs {
	deliver := func(obj any) {
		node, ok := obj.(*corev1.Node)
		if !ok {
			return
		}
		if h := lookup(node.Name); h != nil {
			h.OnNode(node)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    deliver,
		UpdateFunc: func(_, obj any) { deliver(obj) },
	}
}
