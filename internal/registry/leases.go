package registry

import (
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var leaseStrategies = []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}

// Leases as upstream serves them (node heartbeats in kube-node-lease,
// leader election elsewhere).
func Leases() *Resource {
	return &Resource{
		GVR:          coordinationv1.SchemeGroupVersion.WithResource("leases"),
		Kind:         "Lease",
		SingularName: "lease",
		Namespaced:   true,
		New:          func() runtime.Object { return &coordinationv1.Lease{} },
		NewList:      func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			l := obj.(*coordinationv1.Lease)
			return append(validateMeta(l, true, apivalidation.NameIsDNSSubdomain), leaseSpecErrs(&l.Spec)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return append(validateMetaUpdate(obj, old), leaseSpecErrs(&obj.(*coordinationv1.Lease).Spec)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			l := obj.(*coordinationv1.Lease)
			holder := ""
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []any{l.Name, holder, age(l)}
		},
	}
}

// leaseSpecErrs is upstream's ValidateLeaseSpec.
func leaseSpecErrs(spec *coordinationv1.LeaseSpec) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec")
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(p.Child("leaseDurationSeconds"), d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(p.Child("leaseTransitions"), t, "must be greater than or equal to 0"))
	}
	if s := spec.Strategy; s != nil {
		if !strings.Contains(string(*s), "/") {
			if !slices.Contains(leaseStrategies, *s) {
				errs = append(errs, field.NotSupported(p.Child("strategy"), *s, leaseStrategies))
			}
		} else {
			errs = append(errs, validateQualifiedName(string(*s), p.Child("strategy"))...)
		}
	}
	if h := spec.PreferredHolder; h != nil && *h != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(p.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}
