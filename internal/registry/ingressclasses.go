package registry

import (
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxIngressClassController bounds spec.controller, as upstream does.
const maxIngressClassController = 250

// IngressClasses as upstream serves them: cluster-scoped, the controller
// is required and never changes, and a parameters reference defaults to
// the Cluster scope.
func IngressClasses() *Resource {
	return &Resource{
		GVR:          networkingv1.SchemeGroupVersion.WithResource("ingressclasses"),
		Kind:         "IngressClass",
		SingularName: "ingressclass",
		New:          func() runtime.Object { return &networkingv1.IngressClass{} },
		NewList:      func() runtime.Object { return &networkingv1.IngressClassList{} },
		Default: func(obj runtime.Object) {
			if p := obj.(*networkingv1.IngressClass).Spec.Parameters; p != nil && p.Scope == nil {
				scope := networkingv1.IngressClassParametersReferenceScopeCluster
				p.Scope = &scope
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateIngressClass(obj.(*networkingv1.IngressClass))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ic, prev := obj.(*networkingv1.IngressClass), old.(*networkingv1.IngressClass)
			errs := validateMetaUpdate(ic, prev)
			errs = append(errs, apivalidation.ValidateImmutableField(ic.Spec.Controller, prev.Spec.Controller, field.NewPath("spec", "controller"))...)
			return append(errs, validateIngressClass(ic)...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*networkingv1.IngressClass).Spec, old.(*networkingv1.IngressClass).Spec)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Controller", Type: "string", Description: "Controller that is responsible for handling this class"},
			{Name: "Parameters", Type: "string", Description: "A reference to a resource with additional parameters"},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			ic := obj.(*networkingv1.IngressClass)
			params := "<none>"
			if p := ic.Spec.Parameters; p != nil {
				params = p.Kind
				if p.APIGroup != nil {
					params += "." + *p.APIGroup
				}
				params += "/" + p.Name
			}
			return []any{ic.Name, ic.Spec.Controller, params, age(ic)}
		},
	}
}

func validateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	errs := validateMeta(ic, false, apivalidation.NameIsDNSSubdomain)
	controller := field.NewPath("spec", "controller")
	if ic.Spec.Controller == "" {
		errs = append(errs, field.Required(controller, ""))
	} else {
		if len(ic.Spec.Controller) > maxIngressClassController {
			errs = append(errs, field.TooLong(controller, "", maxIngressClassController))
		}
		errs = append(errs, validation.IsDomainPrefixedPath(controller, ic.Spec.Controller)...)
	}
	return append(errs, validateIngressClassParameters(ic.Spec.Parameters, field.NewPath("spec", "parameters"))...)
}

// validateIngressClassParameters: a typed reference with a scope; a
// Namespace-scoped reference names its namespace, a Cluster one must not.
func validateIngressClassParameters(p *networkingv1.IngressClassParametersReference, path *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := validateTypedReference(p.APIGroup, p.Kind, p.Name, path)
	if p.Scope == nil {
		return append(errs, field.Required(path.Child("scope"), ""))
	}
	switch *p.Scope {
	case networkingv1.IngressClassParametersReferenceScopeNamespace:
		if p.Namespace == nil {
			errs = append(errs, field.Required(path.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			for _, msg := range apivalidation.ValidateNamespaceName(*p.Namespace, false) {
				errs = append(errs, field.Invalid(path.Child("namespace"), *p.Namespace, msg))
			}
		}
	case networkingv1.IngressClassParametersReferenceScopeCluster:
		if p.Namespace != nil {
			errs = append(errs, field.Forbidden(path.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("scope"), *p.Scope, []string{
			networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}))
	}
	return errs
}
