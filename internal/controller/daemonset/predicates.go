package daemonset

import (
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	schedcorev1 "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// templateGenerationLabel carries the template generation a daemon pod
// was made from (upstream's extensions.DaemonSetTemplateGenerationKey).
const templateGenerationLabel = "pod-template-generation"

// nodeNameField is the node field a daemon pod's affinity selects on.
const nodeNameField = "metadata.name"

// shouldRun is upstream's NodeShouldRunDaemonPod. shouldRun: a daemon pod
// should be created on node. shouldContinue: a daemon pod already there
// may stay (it tolerates every NoExecute taint, even if a NoSchedule
// taint would keep a new one off). Unschedulable nodes still run daemon
// pods: the default tolerations include node.kubernetes.io/unschedulable.
func shouldRun(node *corev1.Node, ds *appsv1.DaemonSet) (run, cont bool) {
	pod := newPod(ds, node.Name)
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	if ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !ok {
		return false, false
	}
	_, untolerated := schedcorev1.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations,
		func(t *corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoExecute || t.Effect == corev1.TaintEffectNoSchedule
		}, false)
	if !untolerated {
		return true, true
	}
	_, untoleratedNoExecute := schedcorev1.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, pod.Spec.Tolerations,
		func(t *corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoExecute }, false)
	return false, !untoleratedNoExecute
}

// newPod is the daemon pod as it would be on nodeName, for the
// predicates above.
func newPod(ds *appsv1.DaemonSet, nodeName string) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	pod.Namespace = ds.Namespace
	pod.Spec.NodeName = nodeName
	addDefaultTolerations(&pod.Spec)
	return pod
}

// addDefaultTolerations adds the tolerations upstream gives every daemon
// pod, so that node conditions surfaced as taints do not evict or keep
// out node daemons (which are often what fixes the condition).
func addDefaultTolerations(spec *corev1.PodSpec) {
	add := func(key string, effect corev1.TaintEffect) {
		t := corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists, Effect: effect}
		for i := range spec.Tolerations {
			old := &spec.Tolerations[i]
			if old.Key == t.Key && old.Effect == t.Effect && old.Operator == t.Operator && old.Value == t.Value {
				if equality.Semantic.DeepEqual(*old, t) {
					return
				}
				*old = t
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
	add(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute)
	add(corev1.TaintNodeDiskPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeMemoryPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodePIDPressure, corev1.TaintEffectNoSchedule)
	add(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule)
	}
}

// podTemplate is the template daemon pods are made from: the set's
// template with the default tolerations, the template generation and
// revision hash labels.
func podTemplate(ds *appsv1.DaemonSet, generation *int64, hash string) *corev1.PodTemplateSpec {
	t := ds.Spec.Template.DeepCopy()
	addDefaultTolerations(&t.Spec)
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	if generation != nil {
		t.Labels[templateGenerationLabel] = strconv.FormatInt(*generation, 10)
	}
	if hash != "" {
		t.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	return t
}

// pinToNode is upstream's ReplaceDaemonSetPodNodeNameNodeAffinity: the
// required node affinity becomes the single term metadata.name In
// [node], so the scheduler can place the pod nowhere else. Other
// required terms are dropped: the controller already checked them.
// Preferred terms are kept.
func pinToNode(affinity *corev1.Affinity, node string) *corev1.Affinity {
	req := &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchFields: []corev1.NodeSelectorRequirement{{Key: nodeNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}
	if affinity == nil {
		affinity = &corev1.Affinity{}
	}
	if affinity.NodeAffinity == nil {
		affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = req
	return affinity
}

// targetNode is the node a daemon pod is for: where it is bound, or else
// the node its affinity pins it to.
func targetNode(pod *corev1.Pod) (string, error) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, nil
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range term.MatchFields {
				if f.Key == nodeNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0], nil
				}
			}
		}
	}
	return "", fmt.Errorf("no node name found for pod %s/%s", pod.Namespace, pod.Name)
}

// templateGeneration is the set's deprecated.daemonset.template.generation
// annotation, which the API server keeps (nil when absent).
func templateGeneration(ds *appsv1.DaemonSet) (*int64, error) {
	v, ok := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if !ok {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("parsing template generation %q: %w", v, err)
	}
	return &n, nil
}

// isUpdated reports whether pod runs the set's current template: its hash
// label matches, or (pods from before revisions) its template generation.
func isUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	gen := generation != nil && pod.Labels[templateGenerationLabel] == strconv.FormatInt(*generation, 10)
	return gen || (hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash)
}

// byAge orders pods as upstream's podByCreationTimestampAndPhase: bound
// to a node before not yet scheduled, then oldest first, then by name.
func byAge(a, b *corev1.Pod) int {
	ar, br := a.Spec.NodeName != "", b.Spec.NodeName != ""
	if ar != br {
		if ar {
			return -1
		}
		return 1
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		if a.CreationTimestamp.Before(&b.CreationTimestamp) {
			return -1
		}
		return 1
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}
