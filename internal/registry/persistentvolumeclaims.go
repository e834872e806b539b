package registry

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PersistentVolumeClaims as upstream serves them: created Pending, the
// spec fixed after creation except for the volume name (set once, by the
// binder) and, once bound, the requested size (to expand).
func PersistentVolumeClaims() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims"),
		Kind:         "PersistentVolumeClaim",
		SingularName: "persistentvolumeclaim",
		Namespaced:   true,
		ShortNames:   []string{"pvc"},
		Subresources: []string{"status"},
		// Upstream answers a delete with the deleted object.
		ReturnDeletedObject: true,
		New:                 func() runtime.Object { return &corev1.PersistentVolumeClaim{} },
		NewList:             func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
		Default: func(obj runtime.Object) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			if pvc.Status.Phase == "" {
				pvc.Status.Phase = corev1.ClaimPending
			}
			DefaultClaimSpec(&pvc.Spec)
			roundUpQuantities(pvc.Status.Capacity)
			roundUpQuantities(pvc.Status.AllocatedResources)
		},
		PrepareForCreate: func(obj runtime.Object) {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
			normalizeDataSources(&pvc.Spec)
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			pvc, prev := obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim)
			if sub == "status" {
				pvc.Spec = prev.Spec
				return
			}
			pvc.Status = prev.Status
			normalizeDataSources(&pvc.Spec)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			errs := validateCoreMeta(pvc, true, apivalidation.NameIsDNSSubdomain)
			return append(errs, ValidateClaimSpec(&pvc.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateClaimUpdate(obj.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Status", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]},
			{Name: "Volume", Type: "string", Description: corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]},
			{Name: "Capacity", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]},
			{Name: "Access Modes", Type: "string", Description: corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]},
			{Name: "StorageClass", Type: "string", Description: "StorageClass of the pvc"},
			{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pvc"},
			ageColumn,
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]},
		},
		Cells: func(obj runtime.Object) []any {
			pvc := obj.(*corev1.PersistentVolumeClaim)
			phase := string(pvc.Status.Phase)
			if pvc.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			capacity, modes := "", ""
			if pvc.Spec.VolumeName != "" {
				size := pvc.Status.Capacity[corev1.ResourceStorage]
				capacity, modes = size.String(), accessModesString(pvc.Status.AccessModes)
			}
			return []any{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes,
				volumeClass(pvc.Annotations, pvc.Spec.StorageClassName), unsetOr(pvc.Spec.VolumeAttributesClassName),
				age(pvc), volumeModeString(pvc.Spec.VolumeMode)}
		},
	}
}

// DefaultClaimSpec is upstream's defaulting of a claim spec (also used by
// the ephemeral volumes and volume claim templates of pods and stateful
// sets): the Filesystem volume mode, quantities rounded to millis.
func DefaultClaimSpec(spec *corev1.PersistentVolumeClaimSpec) {
	if spec.VolumeMode == nil {
		fs := corev1.PersistentVolumeFilesystem
		spec.VolumeMode = &fs
	}
	roundUpQuantities(spec.Resources.Limits)
	roundUpQuantities(spec.Resources.Requests)
}

// normalizeDataSources mirrors dataSource and dataSourceRef, which mean
// the same when the reference stays in the claim's namespace.
func normalizeDataSources(spec *corev1.PersistentVolumeClaimSpec) {
	if ds := spec.DataSource; ds != nil && spec.DataSourceRef == nil {
		spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ds.APIGroup, Kind: ds.Kind, Name: ds.Name}
	}
	if ref := spec.DataSourceRef; ref != nil && spec.DataSource == nil && (ref.Namespace == nil || *ref.Namespace == "") {
		spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ref.APIGroup, Kind: ref.Kind, Name: ref.Name}
	}
}

// ValidateClaimSpec is upstream's ValidatePersistentVolumeClaimSpec.
// Note upstream's path for a missing size: spec.resources[storage].
func ValidateClaimSpec(spec *corev1.PersistentVolumeClaimSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(path.Child("accessModes"), "at least 1 access mode is required"))
	}
	if spec.Selector != nil {
		errs = append(errs, unversionedvalidation.ValidateLabelSelector(spec.Selector,
			unversionedvalidation.LabelSelectorValidationOptions{}, path.Child("selector"))...)
	}
	errs = append(errs, accessModeErrs(spec.AccessModes, path.Child("accessModes"))...)
	sizePath := path.Child("resources").Key(string(corev1.ResourceStorage))
	if size, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(sizePath, ""))
	} else if sizeErrs := positiveQuantityErrs(size, sizePath); len(sizeErrs) > 0 {
		errs = append(errs, sizeErrs...)
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		errs = append(errs, nameFuncErrs(*spec.StorageClassName, apivalidation.NameIsDNSSubdomain, path.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !slices.Contains(pvVolumeModes, *spec.VolumeMode) {
		errs = append(errs, field.NotSupported(path.Child("volumeMode"), *spec.VolumeMode, pvVolumeModes))
	}
	if ds := spec.DataSource; ds != nil {
		errs = append(errs, dataSourceErrs(ds.APIGroup, ds.Kind, ds.Name, path.Child("dataSource"))...)
	}
	if ref := spec.DataSourceRef; ref != nil {
		errs = append(errs, dataSourceErrs(ref.APIGroup, ref.Kind, ref.Name, path.Child("dataSourceRef"))...)
		if ref.Namespace != nil && *ref.Namespace != "" {
			errs = append(errs, nameFuncErrs(*ref.Namespace, apivalidation.ValidateNamespaceName, path.Child("dataSourceRef", "namespace"))...)
			if spec.DataSource != nil {
				errs = append(errs, field.Invalid(path, path.Child("dataSource"), "may not be specified when dataSourceRef.namespace is specified"))
			}
		} else if ds := spec.DataSource; ds != nil && (!apiequality.Semantic.DeepEqual(ds.APIGroup, ref.APIGroup) || ds.Kind != ref.Kind || ds.Name != ref.Name) {
			errs = append(errs, field.Invalid(path, path.Child("dataSource"), "must match dataSourceRef"))
		}
	}
	if vac := spec.VolumeAttributesClassName; vac != nil && *vac != "" {
		errs = append(errs, nameFuncErrs(*vac, apivalidation.NameIsDNSSubdomain, path.Child("volumeAttributesClassName"))...)
	}
	return errs
}

func dataSourceErrs(apiGroup *string, kind, name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	if kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	group := ""
	if apiGroup != nil {
		group = *apiGroup
	}
	if group == "" && kind != "PersistentVolumeClaim" {
		errs = append(errs, field.Invalid(p, kind, "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
	}
	if group != "" {
		errs = append(errs, validateDNSSubdomain(group, p.Child("apiGroup"))...)
	}
	return errs
}

// validateClaimUpdate is upstream's ValidatePersistentVolumeClaimUpdate.
func validateClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := validateCoreMetaUpdate(pvc, old)
	errs = append(errs, validateCoreMeta(pvc, true, apivalidation.NameIsDNSSubdomain)...)
	errs = append(errs, ValidateClaimSpec(&pvc.Spec, field.NewPath("spec"))...)
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName // bound once
	}
	oldAnn, hadAnn := old.Annotations[corev1.BetaStorageClassAnnotation]
	newAnn, hasAnn := pvc.Annotations[corev1.BetaStorageClassAnnotation]
	switch {
	case hadAnn && oldSpec.StorageClassName == nil && newSpec.StorageClassName != nil &&
		*newSpec.StorageClassName == oldAnn && (!hasAnn || newAnn == oldAnn):
		newSpec.StorageClassName = nil // the class moves from the annotation to the field
	default:
		if newAnn != oldAnn {
			errs = append(errs, field.Invalid(metadataPath.Child("annotations", corev1.BetaStorageClassAnnotation), newAnn, apivalidation.FieldImmutableErrorMsg))
		}
		if newSpec.StorageClassName != nil && oldSpec.StorageClassName == nil && (!hadAnn || *newSpec.StorageClassName == oldAnn) {
			oldSpec.StorageClassName = newSpec.StorageClassName // set once
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		if newSpec.Resources.Requests != nil {
			newSpec.Resources.Requests[corev1.ResourceStorage] = old.Spec.Resources.Requests[corev1.ResourceStorage]
		}
		if newSpec.VolumeAttributesClassName != nil {
			newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
		}
	}
	if !apiequality.Semantic.DeepEqual(newSpec, oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	newSize, oldSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage], old.Spec.Resources.Requests[corev1.ResourceStorage]
	if statusSize := old.Status.Capacity[corev1.ResourceStorage]; newSize.Cmp(oldSize) < 0 && newSize.Cmp(statusSize) <= 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.VolumeAttributesClassName != nil && !apiequality.Semantic.DeepEqual(old.Spec.VolumeAttributesClassName, pvc.Spec.VolumeAttributesClassName) {
		if pvc.Spec.VolumeAttributesClassName == nil {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
		} else if *pvc.Spec.VolumeAttributesClassName == "" {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to an empty string is forbidden"))
		}
	}
	return errs
}
