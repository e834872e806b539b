package simnodes

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/agent"
)

const byNodeName = "spec.nodeName"

// dispatcher runs one pod informer (bound pods only) and one node
// informer and hands each object to the agent of its node.
type dispatcher struct {
	pods   informers.SharedInformerFactory
	nodes  informers.SharedInformerFactory
	synced chan struct{}

	mu       sync.RWMutex
	handlers map[string]agent.Handler
}

func newDispatcher(client kubernetes.Interface) *dispatcher {
	return &dispatcher{
		pods: informers.NewSharedInformerFactoryWithOptions(client, 0,
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermNotEqualSelector("spec.nodeName", "").String()
			})),
		nodes:    informers.NewSharedInformerFactory(client, 0),
		synced:   make(chan struct{}),
		handlers: map[string]agent.Handler{},
	}
}

func (d *dispatcher) lookup(node string) agent.Handler {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.handlers[node]
}

func (d *dispatcher) run(ctx context.Context) error {
	podInf := d.pods.Core().V1().Pods().Informer()
	if err := podInf.AddIndexers(cache.Indexers{byNodeName: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}}); err != nil {
		return fmt.Errorf("simnodes: pod index: %w", err)
	}
	if _, err := podInf.AddEventHandler(agent.PodHandlerFuncs(d.lookup)); err != nil {
		return fmt.Errorf("simnodes: pod informer: %w", err)
	}
	nodeInf := d.nodes.Core().V1().Nodes().Informer()
	if _, err := nodeInf.AddEventHandler(agent.NodeHandlerFuncs(d.lookup)); err != nil {
		return fmt.Errorf("simnodes: node informer: %w", err)
	}
	d.pods.Start(ctx.Done())
	d.nodes.Start(ctx.Done())
	defer d.pods.Shutdown()
	defer d.nodes.Shutdown()
	if cache.WaitForCacheSync(ctx.Done(), podInf.HasSynced, nodeInf.HasSynced) {
		close(d.synced)
	}
	<-ctx.Done()
	return nil
}

// source is one node's view of the dispatcher.
func (d *dispatcher) source(node string) agent.Source { return &nodeSource{d: d, node: node} }

type nodeSource struct {
	d    *dispatcher
	node string
}

// Run implements agent.Source: register, then replay what the informers
// already hold, since their events before registration went nowhere. An
// object delivered both ways is harmless: handlers are idempotent.
func (s *nodeSource) Run(ctx context.Context, h agent.Handler) error {
	d := s.d
	d.mu.Lock()
	d.handlers[s.node] = h
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.handlers, s.node)
		d.mu.Unlock()
	}()
	select {
	case <-d.synced:
	case <-ctx.Done():
		return nil
	}
	if obj, ok, err := d.nodes.Core().V1().Nodes().Informer().GetIndexer().GetByKey(s.node); err == nil && ok {
		h.OnNode(obj.(*corev1.Node))
	}
	pods, err := d.pods.Core().V1().Pods().Informer().GetIndexer().ByIndex(byNodeName, s.node)
	if err != nil {
		return fmt.Errorf("simnodes: pods of %s: %w", s.node, err)
	}
	for _, obj := range pods {
		h.OnPod(obj.(*corev1.Pod))
	}
	h.OnSynced()
	<-ctx.Done()
	return nil
}
