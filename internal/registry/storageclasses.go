package registry

import (
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Annotations that mark the default StorageClass.
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// Limits of a class's provisioner parameters.
const (
	maxProvisionerParameters    = 512
	maxProvisionerParameterSize = 256 * (1 << 10)
)

var (
	classReclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
	bindingModes         = []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}
)

// StorageClasses as upstream serves them: everything but the expansion
// flag, labels and annotations is fixed at creation. The default class
// is shown as "NAME (default)".
func StorageClasses() *Resource {
	return &Resource{
		GVR:          storagev1.SchemeGroupVersion.WithResource("storageclasses"),
		Kind:         "StorageClass",
		SingularName: "storageclass",
		ShortNames:   []string{"sc"},
		New:          func() runtime.Object { return &storagev1.StorageClass{} },
		NewList:      func() runtime.Object { return &storagev1.StorageClassList{} },
		Default: func(obj runtime.Object) {
			sc := obj.(*storagev1.StorageClass)
			if sc.ReclaimPolicy == nil {
				p := corev1.PersistentVolumeReclaimDelete
				sc.ReclaimPolicy = &p
			}
			if sc.VolumeBindingMode == nil {
				m := storagev1.VolumeBindingImmediate
				sc.VolumeBindingMode = &m
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateStorageClass(obj.(*storagev1.StorageClass)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			sc, prev := obj.(*storagev1.StorageClass), old.(*storagev1.StorageClass)
			errs := append(validateStorageClass(sc), validateCoreMetaUpdate(sc, prev)...)
			if !reflect.DeepEqual(prev.Parameters, sc.Parameters) {
				errs = append(errs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
			}
			if sc.Provisioner != prev.Provisioner {
				errs = append(errs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
			}
			if !reflect.DeepEqual(sc.ReclaimPolicy, prev.ReclaimPolicy) {
				errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
			}
			return append(errs, apivalidation.ValidateImmutableField(sc.VolumeBindingMode, prev.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Provisioner", Type: "string", Description: storagev1.StorageClass{}.SwaggerDoc()["provisioner"]},
			{Name: "ReclaimPolicy", Type: "string", Description: storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]},
			{Name: "VolumeBindingMode", Type: "string", Description: storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]},
			{Name: "AllowVolumeExpansion", Type: "string", Description: storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			sc := obj.(*storagev1.StorageClass)
			name := sc.Name
			if IsDefaultStorageClass(sc) {
				name += " (default)"
			}
			reclaim, binding := string(corev1.PersistentVolumeReclaimDelete), string(storagev1.VolumeBindingImmediate)
			if sc.ReclaimPolicy != nil {
				reclaim = string(*sc.ReclaimPolicy)
			}
			if sc.VolumeBindingMode != nil {
				binding = string(*sc.VolumeBindingMode)
			}
			expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
			return []any{name, sc.Provisioner, reclaim, binding, expand, age(sc)}
		},
	}
}

// IsDefaultStorageClass reports whether sc carries the default-class
// annotation (or its beta form) set to "true".
func IsDefaultStorageClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[defaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true"
}

// validateStorageClass is upstream's ValidateStorageClass.
func validateStorageClass(sc *storagev1.StorageClass) field.ErrorList {
	errs := validateCoreMeta(sc, false, apivalidation.NameIsDNSSubdomain)
	prov := field.NewPath("provisioner")
	if sc.Provisioner == "" {
		errs = append(errs, field.Required(prov, sc.Provisioner))
	} else {
		errs = append(errs, validateQualifiedName(strings.ToLower(sc.Provisioner), prov)...)
	}
	params := field.NewPath("parameters")
	if len(sc.Parameters) > maxProvisionerParameters {
		errs = append(errs, field.TooLong(params, "", maxProvisionerParameters))
	} else {
		size := 0
		for k, v := range sc.Parameters {
			if k == "" {
				errs = append(errs, field.Invalid(params, k, "field can not be empty."))
			}
			size += len(k) + len(v)
		}
		if size > maxProvisionerParameterSize {
			errs = append(errs, field.TooLong(params, "", maxProvisionerParameterSize))
		}
	}
	if p := sc.ReclaimPolicy; p != nil && *p != "" && !slices.Contains(classReclaimPolicies, *p) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), p, classReclaimPolicies))
	}
	if m := sc.VolumeBindingMode; m == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else if !slices.Contains(bindingModes, *m) {
		errs = append(errs, field.NotSupported(field.NewPath("volumeBindingMode"), m, bindingModes))
	}
	return append(errs, allowedTopologyErrs(sc.AllowedTopologies, field.NewPath("allowedTopologies"))...)
}

// allowedTopologyErrs is upstream's validateAllowedTopologies.
func allowedTopologyErrs(terms []corev1.TopologySelectorTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seenTerms []map[string][]string
	for i, term := range terms {
		exprs := path.Index(i).Child("matchLabelExpressions")
		byKey := map[string][]string{}
		for j, req := range term.MatchLabelExpressions {
			p := exprs.Index(j)
			values := p.Child("values")
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(values, ""))
			}
			var set []string
			for k, v := range req.Values {
				if slices.Contains(set, v) {
					errs = append(errs, field.Duplicate(values.Index(k), v))
				}
				set = append(set, v)
			}
			errs = append(errs, unversionedvalidation.ValidateLabelName(req.Key, p.Child("key"))...)
			if _, dup := byKey[req.Key]; dup {
				errs = append(errs, field.Duplicate(p.Child("key"), req.Key))
			}
			slices.Sort(set)
			byKey[req.Key] = slices.Compact(set)
		}
		for _, t := range seenTerms {
			if reflect.DeepEqual(t, byKey) {
				errs = append(errs, field.Duplicate(path.Index(i).Child("matchLabelExpressions"), ""))
			}
		}
		seenTerms = append(seenTerms, byKey)
	}
	return errs
}
