package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var quotaScopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass,
	corev1.ResourceQuotaScopeCrossNamespacePodAffinity}

// ResourceQuotas as upstream serves them; the quota controller writes
// status.hard and status.used through /status.
func ResourceQuotas() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("resourcequotas"),
		Kind:         "ResourceQuota",
		SingularName: "resourcequota",
		Namespaced:   true,
		ShortNames:   []string{"quota"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &corev1.ResourceQuota{} },
		NewList:      func() runtime.Object { return &corev1.ResourceQuotaList{} },
		Default: func(obj runtime.Object) {
			q := obj.(*corev1.ResourceQuota)
			roundUpQuantities(q.Spec.Hard)
			roundUpQuantities(q.Status.Hard)
			roundUpQuantities(q.Status.Used)
		},
		PrepareForCreate: func(obj runtime.Object) { obj.(*corev1.ResourceQuota).Status = corev1.ResourceQuotaStatus{} },
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			q := obj.(*corev1.ResourceQuota)
			errs := validateCoreMeta(q, true, apivalidation.NameIsDNSSubdomain)
			errs = append(errs, quotaSpecErrs(&q.Spec)...)
			return append(errs, quotaStatusErrs(&q.Status)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			q, prev := obj.(*corev1.ResourceQuota), old.(*corev1.ResourceQuota)
			errs := append(validateCoreMetaUpdate(q, prev), quotaSpecErrs(&q.Spec)...)
			if !sameScopes(q.Spec.Scopes, prev.Spec.Scopes) {
				errs = append(errs, field.Invalid(field.NewPath("spec", "scopes"), q.Spec.Scopes, apivalidation.FieldImmutableErrorMsg))
			}
			return append(errs, quotaStatusErrs(&q.Status)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Request", Type: "string", Description: "Request represents a minimum amount of cpu/memory that a container may consume."},
			{Name: "Limit", Type: "string", Description: "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			q := obj.(*corev1.ResourceQuota)
			var names []string
			for n := range q.Status.Hard {
				names = append(names, string(n))
			}
			slices.Sort(names)
			var requests, limits []string
			for _, n := range names {
				used, hard := q.Status.Used[corev1.ResourceName(n)], q.Status.Hard[corev1.ResourceName(n)]
				cell := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
				if strings.HasPrefix(n, "limits.") {
					limits = append(limits, cell)
				} else {
					requests = append(requests, cell)
				}
			}
			return []any{q.Name, strings.Join(requests, ", "), strings.Join(limits, ", "), age(q)}
		},
	}
}

func sameScopes(a, b []corev1.ResourceQuotaScope) bool {
	set := func(s []corev1.ResourceQuotaScope) []corev1.ResourceQuotaScope {
		s = slices.Clone(s)
		slices.Sort(s)
		return slices.Compact(s)
	}
	return slices.Equal(set(a), set(b))
}

// quotaSpecErrs is upstream's ValidateResourceQuotaSpec: quota resource
// names and quantities, and scopes that fit the resources and each other.
func quotaSpecErrs(spec *corev1.ResourceQuotaSpec) field.ErrorList {
	var errs field.ErrorList
	hard := field.NewPath("spec", "hard")
	for k, v := range spec.Hard {
		errs = append(errs, resName(k).quotaErrs(hard.Key(string(k)))...)
		errs = append(errs, resName(k).quantityErrs(v, hard.Key(string(k)))...)
	}
	var hardNames []string
	for k := range spec.Hard {
		hardNames = append(hardNames, string(k))
	}
	slices.Sort(hardNames)
	scopesPath := field.NewPath("spec", "scopes")
	seen := map[corev1.ResourceQuotaScope]bool{}
	for _, s := range spec.Scopes {
		if !slices.Contains(quotaScopes, s) {
			errs = append(errs, field.Invalid(scopesPath, spec.Scopes, "unsupported scope"))
		}
		for _, k := range hardNames {
			if resName(k).standardQuota() && !scopeFitsResource(s, corev1.ResourceName(k)) {
				errs = append(errs, field.Invalid(scopesPath, spec.Scopes, "unsupported scope applied to resource"))
			}
		}
		seen[s] = true
	}
	errs = append(errs, conflictingScopeErrs(seen, scopesPath, spec.Scopes)...)
	if spec.ScopeSelector == nil {
		return errs
	}
	sel := field.NewPath("spec", "scopeSelector", "matchExpressions")
	seen = map[corev1.ResourceQuotaScope]bool{}
	for _, req := range spec.ScopeSelector.MatchExpressions {
		if !slices.Contains(quotaScopes, req.ScopeName) {
			errs = append(errs, field.Invalid(sel.Child("scopeName"), req.ScopeName, "unsupported scope"))
		}
		for _, k := range hardNames {
			if resName(k).standardQuota() && !scopeFitsResource(req.ScopeName, corev1.ResourceName(k)) {
				errs = append(errs, field.Invalid(sel, spec.ScopeSelector, "unsupported scope applied to resource"))
			}
		}
		switch req.ScopeName {
		case corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeTerminating,
			corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
			if req.Operator != corev1.ScopeSelectorOpExists {
				errs = append(errs, field.Invalid(sel.Child("operator"), req.Operator,
					"must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
			}
		}
		switch req.Operator {
		case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(sel.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
			}
		case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
			if len(req.Values) != 0 {
				errs = append(errs, field.Invalid(sel.Child("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
			}
		default:
			errs = append(errs, field.Invalid(sel.Child("operator"), req.Operator, "not a valid selector operator"))
		}
		seen[req.ScopeName] = true
	}
	return append(errs, conflictingScopeErrs(seen, sel, spec.Scopes)...)
}

func conflictingScopeErrs(seen map[corev1.ResourceQuotaScope]bool, path *field.Path, scopes []corev1.ResourceQuotaScope) field.ErrorList {
	var errs field.ErrorList
	if seen[corev1.ResourceQuotaScopeBestEffort] && seen[corev1.ResourceQuotaScopeNotBestEffort] {
		errs = append(errs, field.Invalid(path, scopes, "conflicting scopes"))
	}
	if seen[corev1.ResourceQuotaScopeTerminating] && seen[corev1.ResourceQuotaScopeNotTerminating] {
		errs = append(errs, field.Invalid(path, scopes, "conflicting scopes"))
	}
	return errs
}

// scopeFitsResource is upstream's IsResourceQuotaScopeValidForResource.
func scopeFitsResource(scope corev1.ResourceQuotaScope, r corev1.ResourceName) bool {
	podCount := r == corev1.ResourcePods
	podCompute := slices.Contains([]corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceLimitsCPU,
		corev1.ResourceLimitsMemory, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory}, r)
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return podCount || podCompute
	case corev1.ResourceQuotaScopeBestEffort:
		return podCount
	}
	return true
}

func quotaStatusErrs(st *corev1.ResourceQuotaStatus) field.ErrorList {
	var errs field.ErrorList
	for i, list := range []corev1.ResourceList{st.Hard, st.Used} {
		p := field.NewPath("status", []string{"hard", "used"}[i])
		for k, v := range list {
			errs = append(errs, resName(k).quotaErrs(p.Key(string(k)))...)
			errs = append(errs, resName(k).quantityErrs(v, p.Key(string(k)))...)
		}
	}
	return errs
}
