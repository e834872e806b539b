package registry

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceAccounts as upstream serves them: a secret reference keeps only
// its name. The token subresource is the server's (it signs tokens).
func ServiceAccounts() *Resource {
	return &Resource{
		GVR:              corev1.SchemeGroupVersion.WithResource("serviceaccounts"),
		Kind:             "ServiceAccount",
		SingularName:     "serviceaccount",
		Namespaced:       true,
		ShortNames:       []string{"sa"},
		Subresources:     []string{"token"},
		New:              func() runtime.Object { return &corev1.ServiceAccount{} },
		NewList:          func() runtime.Object { return &corev1.ServiceAccountList{} },
		PrepareForCreate: func(obj runtime.Object) { cleanSecretReferences(obj.(*corev1.ServiceAccount)) },
		PrepareForUpdate: func(obj, _ runtime.Object, _ string) { cleanSecretReferences(obj.(*corev1.ServiceAccount)) },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateCoreMeta(obj, true, apivalidation.ValidateServiceAccountName)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return append(validateCoreMetaUpdate(obj, old), validateCoreMeta(obj, true, apivalidation.ValidateServiceAccountName)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Secrets", Type: "string", Description: corev1.ServiceAccount{}.SwaggerDoc()["secrets"]},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			sa := obj.(*corev1.ServiceAccount)
			return []any{sa.Name, int64(len(sa.Secrets)), age(sa)}
		},
	}
}

func cleanSecretReferences(sa *corev1.ServiceAccount) {
	for i, s := range sa.Secrets {
		sa.Secrets[i] = corev1.ObjectReference{Name: s.Name}
	}
}
