package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/kubectl/pkg/util/podutils"
)

// podDeletionCostAnnotation lets users say which pods to delete first
// (lower cost first), as upstream's PodDeletionCost feature.
const podDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// podsToDelete picks the n pods of pods cheapest to lose, in upstream's
// order. related are the pods of every ReplicaSet with the same
// controller (a Deployment's old and new ReplicaSets): a pod on a node
// crowded with its siblings goes first, which spreads what remains.
func podsToDelete(pods, related []*corev1.Pod, n int, now time.Time) []*corev1.Pod {
	if n < len(pods) {
		onNode := map[string]int{}
		for _, p := range related {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
				onNode[p.Spec.NodeName]++
			}
		}
		ranked := rankedPods{pods: pods, rank: make([]int, len(pods)), now: metav1.NewTime(now)}
		for i, p := range pods {
			ranked.rank[i] = onNode[p.Spec.NodeName]
		}
		sort.Sort(ranked)
	}
	return pods[:n]
}

// relatedPods are the pods of the ReplicaSets controlled by rs's own
// controller (none if rs has no controller, as upstream).
func (c *Controller) relatedPods(rs *appsv1.ReplicaSet) []*corev1.Pod {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	sets, err := c.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	seen := map[types.UID]bool{}
	var out []*corev1.Pod
	for _, other := range sets {
		if r := metav1.GetControllerOfNoCopy(other); r == nil || r.UID != ref.UID {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(other.Spec.Selector)
		if err != nil {
			continue
		}
		pods, err := c.podLister.Pods(rs.Namespace).List(sel)
		if err != nil {
			continue
		}
		for _, p := range pods {
			if !seen[p.UID] {
				seen[p.UID] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// rankedPods sorts pods so that those to delete first come first:
// upstream's ActivePodsWithRanks with PodDeletionCost and
// LogarithmicScaleDown on (their defaults).
type rankedPods struct {
	pods []*corev1.Pod
	rank []int // related pods on the same node
	now  metav1.Time
}

func (s rankedPods) Len() int { return len(s.pods) }

func (s rankedPods) Swap(i, j int) {
	s.pods[i], s.pods[j] = s.pods[j], s.pods[i]
	s.rank[i], s.rank[j] = s.rank[j], s.rank[i]
}

var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

func (s rankedPods) Less(i, j int) bool {
	a, b := s.pods[i], s.pods[j]
	// 1. Unassigned before assigned.
	if a.Spec.NodeName != b.Spec.NodeName && (a.Spec.NodeName == "" || b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	// 2. Pending before Unknown before Running.
	if phaseOrder[a.Status.Phase] != phaseOrder[b.Status.Phase] {
		return phaseOrder[a.Status.Phase] < phaseOrder[b.Status.Phase]
	}
	// 3. Not ready before ready.
	aReady, bReady := podutils.IsPodReady(a), podutils.IsPodReady(b)
	if aReady != bReady {
		return !aReady
	}
	// 4. Lower deletion cost first.
	if ca, cb := deletionCost(a), deletionCost(b); ca != cb {
		return ca < cb
	}
	// 5. More siblings on the same node first.
	if s.rank[i] != s.rank[j] {
		return s.rank[i] > s.rank[j]
	}
	// 6. Ready for less time first, compared on a log scale so that pods
	// of about the same age are not told apart by seconds.
	if aReady && bReady {
		ta, tb := readyTime(a), readyTime(b)
		if !ta.Equal(&tb) {
			return s.newerFirst(a, b, ta, tb)
		}
	}
	// 7. More container restarts first.
	if ra, rb := restarts(a), restarts(b); ra != rb {
		return ra > rb
	}
	// 8. Newer first.
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return s.newerFirst(a, b, a.CreationTimestamp, b.CreationTimestamp)
	}
	return false
}

// newerFirst orders a before b if ta is in a younger log2 bucket of age
// than tb (zero times first); within one bucket by UID, so that the
// choice is random-like but stable.
func (s rankedPods) newerFirst(a, b *corev1.Pod, ta, tb metav1.Time) bool {
	if s.now.IsZero() || ta.IsZero() || tb.IsZero() {
		return afterOrZero(ta, tb)
	}
	d := logRank(s.now.Sub(ta.Time)) - logRank(s.now.Sub(tb.Time))
	if d == 0 {
		return a.UID < b.UID
	}
	return d < 0
}

func logRank(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

// afterOrZero: t1 after t2, a zero time counting as the latest.
func afterOrZero(t1, t2 metav1.Time) bool {
	if t1.IsZero() || t2.IsZero() {
		return t1.IsZero()
	}
	return t1.After(t2.Time)
}

func readyTime(p *corev1.Pod) metav1.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime
		}
	}
	return metav1.Time{}
}

// restarts is the highest restart count of the pod's containers, then of
// its sidecars, as one comparable number.
func restarts(p *corev1.Pod) int64 {
	var regular, sidecar int64
	for _, c := range p.Status.ContainerStatuses {
		regular = max(regular, int64(c.RestartCount))
	}
	sidecars := map[string]bool{}
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
		}
	}
	for _, c := range p.Status.InitContainerStatuses {
		if sidecars[c.Name] {
			sidecar = max(sidecar, int64(c.RestartCount))
		}
	}
	return regular<<32 | sidecar
}

func deletionCost(p *corev1.Pod) int32 {
	v, ok := p.Annotations[podDeletionCostAnnotation]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(n)
}
