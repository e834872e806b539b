package registry

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var unhealthyPodEvictionPolicies = []policyv1.UnhealthyPodEvictionPolicyType{policyv1.AlwaysAllow, policyv1.IfHealthyBudget}

// PodDisruptionBudgets as upstream serves them in policy/v1: the spec may
// change (and bumps the generation, which the eviction API compares with
// status.observedGeneration), the status belongs to the disruption
// controller and to evictions, which both write it through /status.
func PodDisruptionBudgets() *Resource {
	return &Resource{
		GVR:          policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets"),
		Kind:         "PodDisruptionBudget",
		SingularName: "poddisruptionbudget",
		Namespaced:   true,
		ShortNames:   []string{"pdb"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
		NewList:      func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*policyv1.PodDisruptionBudget).Status = policyv1.PodDisruptionBudgetStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			p := obj.(*policyv1.PodDisruptionBudget)
			errs := validateKubeMeta(&p.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			return append(errs, pdbSpecErrs(&p.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			p, prev := obj.(*policyv1.PodDisruptionBudget), old.(*policyv1.PodDisruptionBudget)
			errs := validateKubeMetaUpdate(&p.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, pdbSpecErrs(&p.Spec, field.NewPath("spec"))...)
			return append(errs, pdbStatusErrs(&p.Status, field.NewPath("status"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*policyv1.PodDisruptionBudget).Spec, old.(*policyv1.PodDisruptionBudget).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Min Available", Type: "string", Description: "The minimum number of pods that must be available simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."},
			{Name: "Max Unavailable", Type: "string", Description: "The maximum number of pods that may be unavailable simultaneously. This can be either an integer or a string specifying a percentage, e.g. \"28%\"."},
			{Name: "Allowed Disruptions", Type: "integer", Description: "Calculated number of pods that may be disrupted at this time."},
			ageColumn,
		},
		Cells: func(obj runtime.Object) []any {
			p := obj.(*policyv1.PodDisruptionBudget)
			return []any{p.Name, intOrStringCell(p.Spec.MinAvailable), intOrStringCell(p.Spec.MaxUnavailable),
				int64(p.Status.DisruptionsAllowed), age(p)}
		},
	}
}

// intOrStringCell prints an optional int-or-percent as upstream's PDB
// printer does: "N/A" when unset.
func intOrStringCell(v *intstr.IntOrString) string {
	if v == nil {
		return "N/A"
	}
	return v.String()
}

// pdbSpecErrs is upstream's ValidatePodDisruptionBudgetSpec: not both
// minAvailable and maxUnavailable (upstream accepts neither, and the
// budget then asks for no healthy pods), each a non-negative integer or a
// percentage up to 100%, a well-formed selector and a known
// unhealthyPodEvictionPolicy.
func pdbSpecErrs(spec *policyv1.PodDisruptionBudgetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.MinAvailable != nil && spec.MaxUnavailable != nil {
		errs = append(errs, field.Invalid(path, spec, "minAvailable and maxUnavailable cannot be both set"))
	}
	if v := spec.MinAvailable; v != nil {
		errs = append(errs, validatePositiveIntOrPercent(*v, path.Child("minAvailable"))...)
		errs = append(errs, validateNotMoreThan100Percent(*v, path.Child("minAvailable"))...)
	}
	if v := spec.MaxUnavailable; v != nil {
		errs = append(errs, validatePositiveIntOrPercent(*v, path.Child("maxUnavailable"))...)
		errs = append(errs, validateNotMoreThan100Percent(*v, path.Child("maxUnavailable"))...)
	}
	errs = append(errs, metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, path.Child("selector"))...)
	if p := spec.UnhealthyPodEvictionPolicy; p != nil && !clusterContains(unhealthyPodEvictionPolicies, *p) {
		errs = append(errs, field.NotSupported(path.Child("unhealthyPodEvictionPolicy"), *p, unhealthyPodEvictionPolicies))
	}
	return errs
}

// pdbStatusErrs is upstream's ValidatePodDisruptionBudgetStatusUpdate for
// policy/v1: valid conditions and no negative counts.
func pdbStatusErrs(st *policyv1.PodDisruptionBudgetStatus, path *field.Path) field.ErrorList {
	errs := metavalidation.ValidateConditions(st.Conditions, path.Child("conditions"))
	for _, c := range []struct {
		name string
		v    int32
	}{{"disruptionsAllowed", st.DisruptionsAllowed}, {"currentHealthy", st.CurrentHealthy},
		{"desiredHealthy", st.DesiredHealthy}, {"expectedPods", st.ExpectedPods}} {
		errs = append(errs, validateNonnegative32(c.v, path.Child(c.name))...)
	}
	return errs
}
