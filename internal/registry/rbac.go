package registry

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The RBAC resources as upstream serves them. Roles and cluster roles have
// no printer upstream, so `kubectl get` shows the default NAME / CREATED AT
// table; bindings show their role and, with -o wide, their subjects. A
// binding's roleRef never changes. Names only need to be path segments.
//
// Escalation prevention (a writer may only grant what it holds, unless it
// may "escalate" or "bind") needs the authorizer and is the server's, not
// these hooks'.

// Roles as upstream serves them.
func Roles() *Resource {
	return &Resource{
		GVR:          rbacv1.SchemeGroupVersion.WithResource("roles"),
		Kind:         "Role",
		SingularName: "role",
		Namespaced:   true,
		New:          func() runtime.Object { return &rbacv1.Role{} },
		NewList:      func() runtime.Object { return &rbacv1.RoleList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			r := obj.(*rbacv1.Role)
			return append(validateMeta(r, true, path.ValidatePathSegmentName), validatePolicyRules(r.Rules, true)...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			r := obj.(*rbacv1.Role)
			errs := append(validateMeta(r, true, path.ValidatePathSegmentName), validatePolicyRules(r.Rules, true)...)
			return append(errs, validateMetaUpdate(r, old)...)
		},
	}
}

// ClusterRoles as upstream serves them, aggregationRule included (the
// controller that fills aggregated roles is not the registry's).
func ClusterRoles() *Resource {
	return &Resource{
		GVR:          rbacv1.SchemeGroupVersion.WithResource("clusterroles"),
		Kind:         "ClusterRole",
		SingularName: "clusterrole",
		New:          func() runtime.Object { return &rbacv1.ClusterRole{} },
		NewList:      func() runtime.Object { return &rbacv1.ClusterRoleList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateClusterRole(obj.(*rbacv1.ClusterRole), metav1validation.LabelSelectorValidationOptions{})
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			r, prev := obj.(*rbacv1.ClusterRole), old.(*rbacv1.ClusterRole)
			// Selectors with label values that were valid once stay valid.
			var opts metav1validation.LabelSelectorValidationOptions
			if prev.AggregationRule != nil {
				for i := range prev.AggregationRule.ClusterRoleSelectors {
					if len(metav1validation.ValidateLabelSelector(&prev.AggregationRule.ClusterRoleSelectors[i], opts, nil)) > 0 {
						opts.AllowInvalidLabelValueInSelector = true
					}
				}
			}
			return append(validateClusterRole(r, opts), validateMetaUpdate(r, prev)...)
		},
	}
}

// RoleBindings as upstream serves them: a binding refers to a Role in its
// namespace or to a ClusterRole, granting it within the namespace.
func RoleBindings() *Resource {
	return &Resource{
		GVR:          rbacv1.SchemeGroupVersion.WithResource("rolebindings"),
		Kind:         "RoleBinding",
		SingularName: "rolebinding",
		Namespaced:   true,
		New:          func() runtime.Object { return &rbacv1.RoleBinding{} },
		NewList:      func() runtime.Object { return &rbacv1.RoleBindingList{} },
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.RoleBinding)
			defaultBinding(&b.RoleRef, b.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			b := obj.(*rbacv1.RoleBinding)
			return validateBinding(b, b.RoleRef, b.Subjects, true)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			b, prev := obj.(*rbacv1.RoleBinding), old.(*rbacv1.RoleBinding)
			errs := validateBinding(b, b.RoleRef, b.Subjects, true)
			errs = append(errs, validateMetaUpdate(b, prev)...)
			return append(errs, validateRoleRefUnchanged(b.RoleRef, prev.RoleRef)...)
		},
		Columns: bindingColumns("roleBinding", rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]),
		Cells: func(obj runtime.Object) []any {
			b := obj.(*rbacv1.RoleBinding)
			return bindingCells(b.Name, b.RoleRef, b.Subjects, age(b))
		},
	}
}

// ClusterRoleBindings as upstream serves them: they refer to ClusterRoles
// only, and their service account subjects must name a namespace.
func ClusterRoleBindings() *Resource {
	return &Resource{
		GVR:          rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings"),
		Kind:         "ClusterRoleBinding",
		SingularName: "clusterrolebinding",
		New:          func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
		NewList:      func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
		Default: func(obj runtime.Object) {
			b := obj.(*rbacv1.ClusterRoleBinding)
			defaultBinding(&b.RoleRef, b.Subjects)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			b := obj.(*rbacv1.ClusterRoleBinding)
			return validateBinding(b, b.RoleRef, b.Subjects, false)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			b, prev := obj.(*rbacv1.ClusterRoleBinding), old.(*rbacv1.ClusterRoleBinding)
			errs := validateBinding(b, b.RoleRef, b.Subjects, false)
			errs = append(errs, validateMetaUpdate(b, prev)...)
			return append(errs, validateRoleRefUnchanged(b.RoleRef, prev.RoleRef)...)
		},
		Columns: bindingColumns("clusterRoleBinding", rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]),
		Cells: func(obj runtime.Object) []any {
			b := obj.(*rbacv1.ClusterRoleBinding)
			return bindingCells(b.Name, b.RoleRef, b.Subjects, age(b))
		},
	}
}

// bindingColumns are upstream's: NAME ROLE AGE, and with -o wide USERS
// GROUPS SERVICEACCOUNTS.
func bindingColumns(kind, roleDoc string) []metav1.TableColumnDefinition {
	return []metav1.TableColumnDefinition{nameColumn,
		{Name: "Role", Type: "string", Description: roleDoc},
		ageColumn,
		{Name: "Users", Type: "string", Priority: 1, Description: "Users in the " + kind},
		{Name: "Groups", Type: "string", Priority: 1, Description: "Groups in the " + kind},
		{Name: "ServiceAccounts", Type: "string", Priority: 1, Description: "ServiceAccounts in the " + kind},
	}
}

func bindingCells(name string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, age any) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{name, ref.Kind + "/" + ref.Name, age,
		strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// defaultBinding fills in the RBAC API group of the role reference and of
// User and Group subjects.
func defaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		if s := &subjects[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func validateClusterRole(r *rbacv1.ClusterRole, opts metav1validation.LabelSelectorValidationOptions) field.ErrorList {
	errs := validateMeta(r, false, path.ValidatePathSegmentName)
	errs = append(errs, validatePolicyRules(r.Rules, false)...)
	if r.AggregationRule != nil {
		selectors := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(selectors, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range r.AggregationRule.ClusterRoleSelectors {
			sel := &r.AggregationRule.ClusterRoleSelectors[i]
			errs = append(errs, metav1validation.ValidateLabelSelector(sel, opts, selectors.Index(i))...)
			if _, err := metav1.LabelSelectorAsSelector(sel); err != nil {
				errs = append(errs, field.Invalid(selectors.Index(i), *sel, "invalid label selector."))
			}
		}
	}
	return errs
}

// validatePolicyRules: verbs are required; a rule is either about
// non-resource URLs (cluster roles only) or about API groups and
// resources, and names objects of one resource only.
func validatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := field.NewPath("rules").Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
		if len(r.ResourceNames) > 0 && len(r.Resources) > 1 {
			errs = append(errs, field.Required(p.Child("resourceNames"), "resource names cannot apply to multiple resources"))
		}
	}
	return errs
}

func validateBinding(obj runtime.Object, ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	errs := validateMeta(obj, namespaced, path.ValidatePathSegmentName)
	refPath := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(refPath.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kinds := []string{"ClusterRole"}
	if namespaced {
		kinds = []string{"Role", "ClusterRole"}
	}
	if ref.Kind != "ClusterRole" && (!namespaced || ref.Kind != "Role") {
		errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(refPath.Child("name"), ""))
	} else {
		for _, msg := range path.ValidatePathSegmentName(ref.Name, false) {
			errs = append(errs, field.Invalid(refPath.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		errs = append(errs, validateSubject(s, namespaced, field.NewPath("subjects").Index(i))...)
	}
	return errs
}

func validateSubject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			for _, msg := range apivalidation.ValidateServiceAccountName(s.Name, false) {
				errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
			}
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.Name == "" {
			errs = append(errs, field.Invalid(p.Child("name"), s.Name, strings.ToLower(s.Kind)+" name cannot be empty"))
		}
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind,
			[]string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}

func validateRoleRefUnchanged(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}
