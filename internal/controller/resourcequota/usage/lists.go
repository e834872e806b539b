package usage

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Add is a+b, resource by resource.
func Add(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range a {
		out[k] = v.DeepCopy()
	}
	for k, v := range b {
		q, ok := out[k]
		if !ok {
			out[k] = v.DeepCopy()
			continue
		}
		q.Add(v)
		out[k] = q
	}
	return out
}

// Subtract is a-b, resource by resource.
func Subtract(a, b corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range a {
		out[k] = v.DeepCopy()
	}
	for k, v := range b {
		q, ok := out[k]
		if !ok {
			q = resource.Quantity{Format: v.Format}
		}
		q.Sub(v)
		out[k] = q
	}
	return out
}

// Mask keeps only the named resources of l.
func Mask(l corev1.ResourceList, names []corev1.ResourceName) corev1.ResourceList {
	out := corev1.ResourceList{}
	for _, k := range names {
		if v, ok := l[k]; ok {
			out[k] = v.DeepCopy()
		}
	}
	return out
}

// RemoveZeros drops the resources whose quantity is zero.
func RemoveZeros(l corev1.ResourceList) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range l {
		if !v.IsZero() {
			out[k] = v
		}
	}
	return out
}

// LessThanOrEqual says whether every resource of a that b names is at
// most b's, and which are not.
func LessThanOrEqual(a, b corev1.ResourceList) (bool, []corev1.ResourceName) {
	var exceeded []corev1.ResourceName
	for k, v := range a {
		if limit, ok := b[k]; ok && v.Cmp(limit) > 0 {
			exceeded = append(exceeded, k)
		}
	}
	slices.Sort(exceeded)
	return len(exceeded) == 0, exceeded
}

// Equal says whether a and b name the same resources in equal amounts.
func Equal(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

// Names lists l's resource names, sorted.
func Names(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// String prints l as upstream's quota messages do: "a=1,b=2Gi", sorted.
func String(l corev1.ResourceList) string {
	parts := make([]string, 0, len(l))
	for _, k := range Names(l) {
		q := l[k]
		parts = append(parts, string(k)+"="+q.String())
	}
	return strings.Join(parts, ",")
}
