package registry

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespaces as upstream serves them: the "kubernetes" finalizer and the
// Active phase are the server's to set, and the kubernetes.io/metadata.name
// label always names the namespace.
func Namespaces() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("namespaces"),
		Kind:         "Namespace",
		SingularName: "namespace",
		ShortNames:   []string{"ns"},
		Subresources: []string{"status", "finalize"},
		New:          func() runtime.Object { return &corev1.Namespace{} },
		NewList:      func() runtime.Object { return &corev1.NamespaceList{} },
		PrepareForCreate: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
			ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			ns, prev := obj.(*corev1.Namespace), old.(*corev1.Namespace)
			switch sub {
			case "":
				ns.Spec.Finalizers, ns.Status = prev.Spec.Finalizers, prev.Status
			case "status":
				ns.Spec = prev.Spec
			case "finalize":
				ns.Status = prev.Status
			}
		},
		Default: func(obj runtime.Object) {
			ns := obj.(*corev1.Namespace)
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[corev1.LabelMetadataName] = ns.Name
			if ns.Status.Phase == "" {
				ns.Status.Phase = corev1.NamespaceActive
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ns := obj.(*corev1.Namespace)
			errs := validateMeta(ns, false, apivalidation.ValidateNamespaceName)
			for i, f := range ns.Spec.Finalizers {
				errs = append(errs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return append(validateMetaUpdate(obj, old), Namespaces().Validate(obj)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Status", Type: "string", Description: "The status of the namespace"}, ageColumn},
		Cells: func(obj runtime.Object) []any {
			ns := obj.(*corev1.Namespace)
			return []any{ns.Name, string(ns.Status.Phase), age(ns)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(obj.(*corev1.Namespace).Status.Phase)}
		},
		HoldsDeletion:       func(obj runtime.Object) bool { return len(obj.(*corev1.Namespace).Spec.Finalizers) > 0 },
		BeginDeletion:       func(obj runtime.Object) { obj.(*corev1.Namespace).Status.Phase = corev1.NamespaceTerminating },
		ReturnDeletedObject: true,
	}
}
