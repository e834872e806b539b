package scheduler

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// nominator remembers which pending pods preemption nominated to which
// node. Until such a pod is bound, the filters count it on its nominated
// node for pods of lower or equal priority, so that the room its victims
// leave is not taken by others.
type nominator struct {
	mu     sync.RWMutex
	byNode map[string][]*corev1.Pod
	byPod  map[types.UID]string
}

func newNominator() *nominator {
	return &nominator{byNode: map[string][]*corev1.Pod{}, byPod: map[types.UID]string{}}
}

// add nominates pod to node (replacing an earlier nomination).
func (n *nominator) add(pod *corev1.Pod, node string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(pod)
	if node == "" {
		return
	}
	n.byPod[pod.UID] = node
	n.byNode[node] = append(n.byNode[node], pod)
}

// addFromStatus takes a nomination recorded in the pod's status (made by
// an earlier run of the scheduler).
func (n *nominator) addFromStatus(pod *corev1.Pod) {
	if pod.Status.NominatedNodeName != "" {
		n.add(pod, pod.Status.NominatedNodeName)
	}
}

// update follows a pod update: a nomination set or changed in the status
// wins; one removed from the status is dropped; otherwise the pod object
// is refreshed under its current nomination (the scheduler's own status
// patch may not have arrived yet).
func (n *nominator) update(old, pod *corev1.Pod) {
	switch {
	case pod.Status.NominatedNodeName != "":
		n.add(pod, pod.Status.NominatedNodeName)
	case old.Status.NominatedNodeName != "":
		n.remove(pod)
	default:
		n.mu.RLock()
		node, ok := n.byPod[pod.UID]
		n.mu.RUnlock()
		if ok {
			n.add(pod, node)
		}
	}
}

func (n *nominator) remove(pod *corev1.Pod) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(pod)
}

func (n *nominator) removeLocked(pod *corev1.Pod) {
	node, ok := n.byPod[pod.UID]
	if !ok {
		return
	}
	delete(n.byPod, pod.UID)
	pods := n.byNode[node]
	for i, p := range pods {
		if p.UID == pod.UID {
			pods = append(pods[:i:i], pods[i+1:]...)
			break
		}
	}
	if len(pods) == 0 {
		delete(n.byNode, node)
	} else {
		n.byNode[node] = pods
	}
}

// forNode returns the pods nominated to node.
func (n *nominator) forNode(node string) []*corev1.Pod {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.byNode[node]
}

// empty reports whether no pod is nominated anywhere, which lets a cycle
// skip the per-node lookups.
func (n *nominator) empty() bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.byPod) == 0
}

// lowerPriorityOn returns the pods nominated to node with a priority
// lower than pod's: preemption clears their nomination.
func (n *nominator) lowerPriorityOn(node string, pod *corev1.Pod) []*corev1.Pod {
	prio := corev1helpers.PodPriority(pod)
	var out []*corev1.Pod
	for _, p := range n.forNode(node) {
		if corev1helpers.PodPriority(p) < prio {
			out = append(out, p)
		}
	}
	return out
}
