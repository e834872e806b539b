package usage

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Matches says whether a quota charges an object of resource gr: its
// hard limits name something the object is charged to, and every scope
// of the quota selects the object. Only pods have scopes; a scoped quota
// charges nothing else, as upstream.
func Matches(q *corev1.ResourceQuota, gr schema.GroupResource, obj runtime.Object) bool {
	return len(Tracked(q, gr)) > 0 && InScopes(q, obj)
}

// InScopes says whether every scope of the quota selects the object.
func InScopes(q *corev1.ResourceQuota, obj runtime.Object) bool {
	pod, isPod := obj.(*corev1.Pod)
	for _, sel := range ScopeSelectors(q) {
		if !isPod || !podInScope(sel, pod) {
			return false
		}
	}
	return true
}

// Tracked are the quota's hard resources that objects of gr are charged
// to, sorted.
func Tracked(q *corev1.ResourceQuota, gr schema.GroupResource) []corev1.ResourceName {
	var names []corev1.ResourceName
	for _, n := range Names(q.Status.Hard) {
		if Covers(gr, n) {
			names = append(names, n)
		}
	}
	return names
}

// ScopeSelectors are spec.scopes and spec.scopeSelector as one list.
func ScopeSelectors(q *corev1.ResourceQuota) []corev1.ScopedResourceSelectorRequirement {
	var out []corev1.ScopedResourceSelectorRequirement
	for _, s := range q.Spec.Scopes {
		out = append(out, corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists})
	}
	if q.Spec.ScopeSelector != nil {
		out = append(out, q.Spec.ScopeSelector.MatchExpressions...)
	}
	return out
}

func podInScope(sel corev1.ScopedResourceSelectorRequirement, pod *corev1.Pod) bool {
	switch sel.ScopeName {
	case corev1.ResourceQuotaScopeTerminating:
		return terminating(pod)
	case corev1.ResourceQuotaScopeNotTerminating:
		return !terminating(pod)
	case corev1.ResourceQuotaScopeBestEffort:
		return bestEffort(pod)
	case corev1.ResourceQuotaScopeNotBestEffort:
		return !bestEffort(pod)
	case corev1.ResourceQuotaScopePriorityClass:
		name := pod.Spec.PriorityClassName
		switch sel.Operator {
		case corev1.ScopeSelectorOpExists:
			return name != ""
		case corev1.ScopeSelectorOpDoesNotExist:
			return name == ""
		case corev1.ScopeSelectorOpIn:
			return slices.Contains(sel.Values, name)
		case corev1.ScopeSelectorOpNotIn:
			return !slices.Contains(sel.Values, name)
		}
	case corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return crossNamespaceAffinity(pod)
	}
	return false
}

// terminating pods have an active deadline.
func terminating(pod *corev1.Pod) bool {
	return pod.Spec.ActiveDeadlineSeconds != nil && *pod.Spec.ActiveDeadlineSeconds >= 0
}

// bestEffort pods state no cpu or memory request or limit anywhere.
func bestEffort(pod *corev1.Pod) bool {
	for _, c := range append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...) {
		for _, l := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if q, ok := l[r]; ok && !q.IsZero() {
					return false
				}
			}
		}
	}
	return true
}

func crossNamespaceAffinity(pod *corev1.Pod) bool {
	a := pod.Spec.Affinity
	if a == nil {
		return false
	}
	var terms []corev1.PodAffinityTerm
	if a.PodAffinity != nil {
		terms = append(terms, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	if a.PodAntiAffinity != nil {
		terms = append(terms, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution...)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
	}
	for _, t := range terms {
		if len(t.Namespaces) > 0 || t.NamespaceSelector != nil {
			return true
		}
	}
	return false
}

// constrained are the quota resources for which every container of a pod
// must state its own request or limit, a rule upstream keeps for
// backward compatibility.
var constrained = []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory,
	corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory}

// Constraints checks that each container of a pod states what the
// tracked resources need: "must specify limits.cpu for: app; ...".
func Constraints(tracked []corev1.ResourceName, obj runtime.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil
	}
	var required []corev1.ResourceName
	for _, r := range tracked {
		if slices.Contains(constrained, r) {
			required = append(required, r)
		}
	}
	if len(required) == 0 {
		return nil
	}
	missing := map[corev1.ResourceName][]string{}
	for _, c := range append(slices.Clone(pod.Spec.Containers), pod.Spec.InitContainers...) {
		has := computeUsage(c.Resources.Requests, c.Resources.Limits)
		for _, r := range required {
			if _, ok := has[r]; !ok && !slices.Contains(missing[r], c.Name) {
				missing[r] = append(missing[r], c.Name)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var msgs []string
	for _, r := range slices.Sorted(maps.Keys(missing)) {
		names := missing[r]
		slices.Sort(names)
		msgs = append(msgs, fmt.Sprintf("%s for: %s", r, strings.Join(names, ",")))
	}
	return fmt.Errorf("must specify %s", strings.Join(msgs, "; "))
}
