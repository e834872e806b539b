package daemonset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	intstrutil "k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/kubectl/pkg/util/podutils"
)

// rollingUpdate replaces old pods, as upstream's rollingUpdate. Without
// surge it deletes old pods while at most maxUnavailable are unavailable
// (manage recreates them with the new template); with surge it creates
// new pods next to old ones, at most maxSurge at a time, and deletes an
// old pod once its replacement is available.
func (c *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, hash string) error {
	byNode, err := c.nodeToPods(ctx, ds, false)
	if err != nil {
		return err
	}
	maxSurge, maxUnavailable, err := c.updatedDesiredNodeCounts(ds, nodes, byNode)
	if err != nil {
		return err
	}
	generation, _ := templateGeneration(ds)
	now := metav1.Time{Time: c.clock.Now()}
	available := func(p *corev1.Pod) bool { return podutils.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }

	if maxSurge == 0 {
		var unavailable int
		var replace, candidates []string
		for _, pods := range byNode {
			newPod, oldPod, ok := updatedPodsOnNode(pods, hash, generation)
			switch {
			case !ok:
				unavailable++ // manage cleans the node up
			case oldPod == nil && newPod == nil, oldPod != nil && newPod != nil:
				unavailable++ // manage creates or deletes
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				replace = append(replace, oldPod.Name) // costs no availability
			case unavailable >= maxUnavailable:
			default:
				candidates = append(candidates, oldPod.Name)
			}
		}
		n := min(max(maxUnavailable-unavailable, 0), len(candidates))
		return c.syncNodes(ctx, ds, append(replace, candidates[:n]...), nil, hash)
	}

	var oldToDelete, candidateNodes, allowedNodes []string
	var surge int
	for node, pods := range byNode {
		newPod, oldPod, ok := updatedPodsOnNode(pods, hash, generation)
		switch {
		case !ok:
			surge++
		case oldPod == nil:
			// manage creates a pod here if needed
		case newPod == nil:
			switch {
			case !available(oldPod):
				allowedNodes = append(allowedNodes, node)
			case surge >= maxSurge:
			default:
				candidateNodes = append(candidateNodes, node)
			}
		case !available(newPod):
			surge++ // waiting for the new pod
		default:
			oldToDelete = append(oldToDelete, oldPod.Name)
		}
	}
	n := min(max(maxSurge-surge, 0), len(candidateNodes))
	return c.syncNodes(ctx, ds, oldToDelete, append(allowedNodes, candidateNodes[:n]...), hash)
}

// updatedPodsOnNode splits a node's live pods into the one with the
// current template and the one with an older; ok is false when there
// are two of either (manage must clean up first).
func updatedPodsOnNode(pods []*corev1.Pod, hash string, generation *int64) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(pod, hash, generation) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

// updatedDesiredNodeCounts scales maxSurge and maxUnavailable against the
// number of nodes that should run the pod (rounding up), and adds an
// empty entry for such nodes without pods, which count as unavailable.
func (c *Controller) updatedDesiredNodeCounts(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod) (int, int, error) {
	var desired int
	for _, node := range nodes {
		if run, _ := shouldRun(node, ds); !run {
			continue
		}
		desired++
		if _, ok := byNode[node.Name]; !ok {
			byNode[node.Name] = nil
		}
	}
	maxUnavailable, maxSurge, err := unavailableAndSurge(ds, desired)
	if err != nil {
		return 0, 0, err
	}
	// An impossible configuration falls back to upstream's default.
	if maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1
	}
	return maxSurge, maxUnavailable, nil
}

func unavailableAndSurge(ds *appsv1.DaemonSet, desired int) (int, int, error) {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return 1, 0, nil
	}
	var unavailable, surge int
	var err error
	if ru.MaxUnavailable != nil {
		if unavailable, err = intstrutil.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, desired, true); err != nil {
			return 0, 0, err
		}
	}
	if ru.MaxSurge != nil {
		if surge, err = intstrutil.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true); err != nil {
			return 0, 0, err
		}
	}
	return unavailable, surge, nil
}

// allowsSurge reports whether a rolling update may run two pods on a node.
func allowsSurge(ds *appsv1.DaemonSet) bool {
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType {
		return false
	}
	_, surge, err := unavailableAndSurge(ds, 1)
	return err == nil && surge > 0
}
