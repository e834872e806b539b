package scheduler

import (
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/scheduler/framework"
)

// cache is the scheduler's own view of nodes and the pods on them. It
// differs from the informers' in one way that matters: a pod is placed on
// its node here ("assumed") as soon as a cycle picks the node, before the
// binding call returns, so that the next cycles see the node's resources
// as taken. When the informer later reports the pod bound, the assumption
// is confirmed; if the binding fails, it is forgotten.
//
// Every change stamps the node's NodeInfo with a new cache-wide
// generation, which lets the snapshot copy only what changed.
type cache struct {
	mu         sync.Mutex
	nodes      map[string]*framework.NodeInfo
	pods       map[types.UID]*podState
	generation int64
	// nodeSetChanged says nodes were added or removed since the last
	// snapshot, which then rebuilds its node list.
	nodeSetChanged bool
	// dirty names the nodes changed since the last snapshot, so that a
	// snapshot costs the nodes that changed, not the cluster size.
	dirty map[string]struct{}
}

type podState struct {
	pod *corev1.Pod
	// assumed: placed by the scheduler, not yet seen bound by the informer.
	assumed bool
}

func newCache() *cache {
	return &cache{nodes: map[string]*framework.NodeInfo{}, pods: map[types.UID]*podState{}, dirty: map[string]struct{}{}}
}

// nodeInfo returns the node's info, creating an empty one: pods may be
// reported before their node.
func (c *cache) nodeInfo(name string) *framework.NodeInfo {
	n, ok := c.nodes[name]
	if !ok {
		n = &framework.NodeInfo{}
		c.nodes[name] = n
	}
	return n
}

func (c *cache) touch(name string, n *framework.NodeInfo) {
	c.generation++
	n.Generation = c.generation
	c.dirty[name] = struct{}{}
}

func (c *cache) addNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodeInfo(node.Name)
	if n.Node == nil {
		c.nodeSetChanged = true
	}
	n.SetNode(node)
	c.touch(node.Name, n)
}

func (c *cache) removeNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		return
	}
	c.nodeSetChanged = true
	// Pods still bound to a deleted node stay accounted until their own
	// deletion arrives; only the node goes.
	if len(n.Pods) == 0 {
		delete(c.nodes, name)
		c.dirty[name] = struct{}{}
		return
	}
	n.Node = nil
	c.touch(name, n)
}

// assumePod places pod (whose spec.nodeName is set) on its node.
func (c *cache) assumePod(pod *corev1.Pod) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pods[pod.UID]; ok {
		return fmt.Errorf("pod %s/%s is already in the cache", pod.Namespace, pod.Name)
	}
	c.addPodLocked(pod)
	c.pods[pod.UID] = &podState{pod: pod, assumed: true}
	return nil
}

// forgetPod undoes assumePod after a failed binding.
func (c *cache) forgetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	if !ok || !ps.assumed {
		return
	}
	c.removePodLocked(ps.pod)
	delete(c.pods, pod.UID)
}

// isAssumed reports whether the pod is assumed and not yet confirmed.
func (c *cache) isAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	return ok && ps.assumed
}

// placed reports whether the pod is on a node already, assumed or bound:
// a stale pending copy of it must not be scheduled again.
func (c *cache) placed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.pods[pod.UID]
	return ok
}

// addPod records a bound pod the informer reported, confirming an
// assumption (moving it if it was bound elsewhere).
func (c *cache) addPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ps, ok := c.pods[pod.UID]; ok {
		c.removePodLocked(ps.pod)
	}
	c.addPodLocked(pod)
	c.pods[pod.UID] = &podState{pod: pod}
}

// removePod forgets a pod that was deleted (or finished).
func (c *cache) removePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.pods[pod.UID]
	if !ok {
		return
	}
	c.removePodLocked(ps.pod)
	delete(c.pods, pod.UID)
}

func (c *cache) addPodLocked(pod *corev1.Pod) {
	n := c.nodeInfo(pod.Spec.NodeName)
	n.AddPod(pod)
	c.touch(pod.Spec.NodeName, n)
}

func (c *cache) removePodLocked(pod *corev1.Pod) {
	n, ok := c.nodes[pod.Spec.NodeName]
	if !ok {
		return
	}
	n.RemovePod(pod)
	c.touch(pod.Spec.NodeName, n)
	if n.Node == nil && len(n.Pods) == 0 {
		delete(c.nodes, pod.Spec.NodeName)
	}
}
