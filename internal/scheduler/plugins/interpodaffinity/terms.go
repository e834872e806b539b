package interpodaffinity

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// term is a parsed PodAffinityTerm: which pods it selects (namespaces
// and label selector) and over which topology.
type term struct {
	topologyKey string
	selector    labels.Selector
	namespaces  sets.Set[string]
	// nsSelector applies to the namespace's labels when set.
	nsSelector labels.Selector
	weight     int32
}

// NamespaceLabels returns a namespace's labels (nil if unknown); it lets
// terms with a namespaceSelector be evaluated.
type NamespaceLabels func(namespace string) labels.Set

// newTerm parses t as written by a pod in namespace ns: no namespaces and
// no namespaceSelector means the pod's own namespace.
func newTerm(t *corev1.PodAffinityTerm, ns string, weight int32) term {
	out := term{topologyKey: t.TopologyKey, weight: weight, namespaces: sets.New(t.Namespaces...)}
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil {
		// An invalid selector (rejected by validation) selects nothing.
		sel = labels.Nothing()
	}
	out.selector = sel
	if t.NamespaceSelector != nil {
		nsSel, err := metav1.LabelSelectorAsSelector(t.NamespaceSelector)
		if err != nil {
			nsSel = labels.Nothing()
		}
		out.nsSelector = nsSel
	} else if len(t.Namespaces) == 0 {
		out.namespaces.Insert(ns)
	}
	return out
}

// matches reports whether the term selects pod.
func (t *term) matches(pod *corev1.Pod, nsLabels NamespaceLabels) bool {
	if !t.namespaces.Has(pod.Namespace) {
		if t.nsSelector == nil || nsLabels == nil || !t.nsSelector.Matches(nsLabels(pod.Namespace)) {
			return false
		}
	}
	return t.selector.Matches(labels.Set(pod.Labels))
}

// podTerms are a pod's parsed affinity terms.
type podTerms struct {
	requiredAffinity, requiredAnti   []term
	preferredAffinity, preferredAnti []term
}

func parseTerms(pod *corev1.Pod) podTerms {
	var out podTerms
	a := pod.Spec.Affinity
	if a == nil {
		return out
	}
	if pa := a.PodAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			out.requiredAffinity = append(out.requiredAffinity, newTerm(&pa.RequiredDuringSchedulingIgnoredDuringExecution[i], pod.Namespace, 1))
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			out.preferredAffinity = append(out.preferredAffinity, newTerm(&w.PodAffinityTerm, pod.Namespace, w.Weight))
		}
	}
	if pa := a.PodAntiAffinity; pa != nil {
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			out.requiredAnti = append(out.requiredAnti, newTerm(&pa.RequiredDuringSchedulingIgnoredDuringExecution[i], pod.Namespace, 1))
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			w := &pa.PreferredDuringSchedulingIgnoredDuringExecution[i]
			out.preferredAnti = append(out.preferredAnti, newTerm(&w.PodAffinityTerm, pod.Namespace, w.Weight))
		}
	}
	return out
}

// topologyPair is one topology domain, e.g. zone=a.
type topologyPair struct {
	key, value string
}

// pairCounts counts matching pods per topology domain.
type pairCounts map[topologyPair]int64

func (c pairCounts) add(p topologyPair, n int64) {
	c[p] += n
	if c[p] == 0 {
		delete(c, p)
	}
}

func (c pairCounts) clone() pairCounts {
	out := make(pairCounts, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}
