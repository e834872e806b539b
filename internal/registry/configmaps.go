package registry

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// maxDataSize bounds a ConfigMap's or Secret's data, as upstream does.
const maxDataSize = 1 << 20

// ConfigMaps as upstream serves them.
func ConfigMaps() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("configmaps"),
		Kind:         "ConfigMap",
		SingularName: "configmap",
		Namespaced:   true,
		ShortNames:   []string{"cm"},
		New:          func() runtime.Object { return &corev1.ConfigMap{} },
		NewList:      func() runtime.Object { return &corev1.ConfigMapList{} },
		Validate:     func(obj runtime.Object) field.ErrorList { return validateConfigMap(obj.(*corev1.ConfigMap)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cm, prev := obj.(*corev1.ConfigMap), old.(*corev1.ConfigMap)
			errs := validateMetaUpdate(cm, prev)
			errs = append(errs, validateImmutableData(prev.Immutable, cm.Immutable,
				dataField{"data", prev.Data, cm.Data}, dataField{"binaryData", prev.BinaryData, cm.BinaryData})...)
			return append(errs, validateConfigMap(cm)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Data", Type: "integer", Description: corev1.ConfigMap{}.SwaggerDoc()["data"]}, ageColumn},
		Cells: func(obj runtime.Object) []any {
			cm := obj.(*corev1.ConfigMap)
			return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), age(cm)}
		},
	}
}

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	errs := validateMeta(cm, true, apivalidation.NameIsDNSSubdomain)
	size := 0
	for key, value := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, msg))
		}
		if _, dup := cm.BinaryData[key]; dup {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(key), key, "duplicate of key present in binaryData"))
		}
		size += len(value)
	}
	for key, value := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(key), key, msg))
		}
		size += len(value)
	}
	if size > maxDataSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", maxDataSize))
	}
	return errs
}

// dataField is one data field of an object that can be made immutable.
type dataField struct {
	name     string
	old, new any
}

// validateImmutableData refuses, once an object is immutable, both making
// it mutable again and changing any of its data fields.
func validateImmutableData(wasImmutable, isImmutable *bool, fields ...dataField) field.ErrorList {
	if wasImmutable == nil || !*wasImmutable {
		return nil
	}
	const msg = "field is immutable when `immutable` is set"
	var errs field.ErrorList
	if isImmutable == nil || !*isImmutable {
		errs = append(errs, field.Forbidden(field.NewPath("immutable"), msg))
	}
	for _, f := range fields {
		if !reflect.DeepEqual(f.old, f.new) {
			errs = append(errs, field.Forbidden(field.NewPath(f.name), msg))
		}
	}
	return errs
}
