package registry

import (
	"path"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	reclaimPolicies = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete,
		corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}
	hostPathTypes = []corev1.HostPathType{corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev,
		corev1.HostPathDirectory, corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket}
)

// PersistentVolumes as upstream serves them: created Pending (with the
// time of that phase), status written only through /status.
func PersistentVolumes() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("persistentvolumes"),
		Kind:         "PersistentVolume",
		SingularName: "persistentvolume",
		ShortNames:   []string{"pv"},
		Subresources: []string{"status"},
		// Upstream answers a delete with the deleted object.
		ReturnDeletedObject: true,
		New:                 func() runtime.Object { return &corev1.PersistentVolume{} },
		NewList:             func() runtime.Object { return &corev1.PersistentVolumeList{} },
		Default:             func(obj runtime.Object) { defaultPersistentVolume(obj.(*corev1.PersistentVolume)) },
		PrepareForCreate: func(obj runtime.Object) {
			now := metav1.Now()
			obj.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			pv, prev := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			if sub != "status" {
				pv.Status = prev.Status
				return
			}
			pv.Spec = prev.Spec
			if pv.Status.Phase != prev.Status.Phase && (pv.Status.LastPhaseTransitionTime == nil ||
				pv.Status.LastPhaseTransitionTime.Equal(prev.Status.LastPhaseTransitionTime)) {
				now := metav1.Now()
				pv.Status.LastPhaseTransitionTime = &now
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePersistentVolume(obj.(*corev1.PersistentVolume))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pv, prev := obj.(*corev1.PersistentVolume), old.(*corev1.PersistentVolume)
			errs := append(validateCoreMetaUpdate(pv, prev), validatePersistentVolume(pv)...)
			return append(errs, persistentVolumeUpdateErrs(pv, prev)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Capacity", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]},
			{Name: "Access Modes", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]},
			{Name: "Reclaim Policy", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]},
			{Name: "Status", Type: "string", Description: corev1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]},
			{Name: "Claim", Type: "string", Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]},
			{Name: "StorageClass", Type: "string", Description: "StorageClass of the pv"},
			{Name: "VolumeAttributesClass", Type: "string", Description: "VolumeAttributesClass of the pv"},
			{Name: "Reason", Type: "string", Description: corev1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]},
			ageColumn,
			{Name: "VolumeMode", Type: "string", Priority: 1, Description: corev1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]},
		},
		Cells: func(obj runtime.Object) []any {
			pv := obj.(*corev1.PersistentVolume)
			claim := ""
			if ref := pv.Spec.ClaimRef; ref != nil {
				claim = ref.Namespace + "/" + ref.Name
			}
			phase := string(pv.Status.Phase)
			if pv.DeletionTimestamp != nil {
				phase = "Terminating"
			}
			size := pv.Spec.Capacity[corev1.ResourceStorage]
			return []any{pv.Name, size.String(), accessModesString(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy),
				phase, claim, volumeClass(pv.Annotations, &pv.Spec.StorageClassName), unsetOr(pv.Spec.VolumeAttributesClassName),
				pv.Status.Reason, age(pv), volumeModeString(pv.Spec.VolumeMode)}
		},
	}
}

func unsetOr(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func volumeModeString(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

// defaultPersistentVolume is upstream's SetDefaults_PersistentVolume with
// the defaults of the parts it contains.
func defaultPersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Status.Phase == "" {
		pv.Status.Phase = corev1.VolumePending
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		fs := corev1.PersistentVolumeFilesystem
		pv.Spec.VolumeMode = &fs
	}
	if hp := pv.Spec.HostPath; hp != nil && hp.Type == nil {
		unset := corev1.HostPathUnset
		hp.Type = &unset
	}
	roundUpQuantities(pv.Spec.Capacity)
}

// validatePersistentVolume is upstream's ValidatePersistentVolume for
// what matters to users: access modes, capacity, reclaim policy, node
// affinity, exactly one volume source (hostPath, local, nfs and csi
// checked in detail, other sources counted), class and mode.
func validatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	errs := validateCoreMeta(pv, false, apivalidation.NameIsDNSSubdomain)
	spec := &pv.Spec
	sp := field.NewPath("spec")
	if len(spec.AccessModes) == 0 {
		errs = append(errs, field.Required(sp.Child("accessModes"), ""))
	}
	errs = append(errs, accessModeErrs(spec.AccessModes, sp.Child("accessModes"))...)
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(sp.Child("capacity"), ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(sp.Child("capacity"), spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for r, q := range spec.Capacity {
		p := sp.Child("capacity").Key(string(r))
		if q.Value() < 0 {
			errs = append(errs, field.Invalid(p, q.Value(), "must be a valid resource quantity"))
		}
		errs = append(errs, positiveQuantityErrs(q, p)...)
	}
	if spec.PersistentVolumeReclaimPolicy != "" && !slices.Contains(reclaimPolicies, spec.PersistentVolumeReclaimPolicy) {
		errs = append(errs, field.NotSupported(sp.Child("persistentVolumeReclaimPolicy"), spec.PersistentVolumeReclaimPolicy, reclaimPolicies))
	}
	affinity := false
	if na := spec.NodeAffinity; na != nil {
		affinity = true
		if na.Required == nil {
			errs = append(errs, field.Required(sp.Child("nodeAffinity", "required"), "must specify required node constraints"))
		} else {
			errs = append(errs, nodeSelectorErrs(na.Required, sp.Child("nodeAffinity", "required"))...)
		}
	}
	errs = append(errs, volumeSourceErrs(spec, affinity, sp)...)
	if spec.HostPath != nil && path.Clean(spec.HostPath.Path) == "/" && spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimRecycle {
		errs = append(errs, field.Forbidden(sp.Child("persistentVolumeReclaimPolicy"), "may not be 'recycle' for a hostPath mount of '/'"))
	}
	if spec.StorageClassName != "" {
		errs = append(errs, nameFuncErrs(spec.StorageClassName, apivalidation.NameIsDNSSubdomain, sp.Child("storageClassName"))...)
	}
	if spec.VolumeMode != nil && !slices.Contains(pvVolumeModes, *spec.VolumeMode) {
		errs = append(errs, field.NotSupported(sp.Child("volumeMode"), *spec.VolumeMode, pvVolumeModes))
	}
	if vac := spec.VolumeAttributesClassName; vac != nil {
		if *vac == "" {
			errs = append(errs, field.Required(sp.Child("volumeAttributesClassName"), "an empty string is disallowed"))
		} else {
			errs = append(errs, nameFuncErrs(*vac, apivalidation.NameIsDNSSubdomain, sp.Child("volumeAttributesClassName"))...)
		}
		if spec.CSI == nil {
			errs = append(errs, field.Required(sp.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	return errs
}

// volumeSourceErrs counts the volume sources (exactly one) and checks the
// ones mini's users write.
func volumeSourceErrs(spec *corev1.PersistentVolumeSpec, affinity bool, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	src := reflect.ValueOf(spec.PersistentVolumeSource)
	count := 0
	for i := 0; i < src.NumField(); i++ {
		if src.Field(i).IsNil() {
			continue
		}
		name := strings.Split(src.Type().Field(i).Tag.Get("json"), ",")[0]
		if count++; count > 1 {
			errs = append(errs, field.Forbidden(sp.Child(name), "may not specify more than 1 volume type"))
			continue
		}
		p := sp.Child(name)
		switch {
		case spec.HostPath != nil && name == "hostPath":
			errs = append(errs, localPathErrs(spec.HostPath.Path, p.Child("path"))...)
			if t := spec.HostPath.Type; t != nil && !slices.Contains(hostPathTypes, *t) {
				errs = append(errs, field.NotSupported(p.Child("type"), *t, hostPathTypes))
			}
		case spec.Local != nil && name == "local":
			errs = append(errs, localPathErrs(spec.Local.Path, p.Child("path"))...)
			if !affinity {
				errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
			}
		case spec.NFS != nil && name == "nfs":
			if spec.NFS.Server == "" {
				errs = append(errs, field.Required(p.Child("server"), ""))
			}
			if spec.NFS.Path == "" {
				errs = append(errs, field.Required(p.Child("path"), ""))
			}
			if !path.IsAbs(spec.NFS.Path) {
				errs = append(errs, field.Invalid(p.Child("path"), spec.NFS.Path, "must be an absolute path"))
			}
		case spec.CSI != nil && name == "csi":
			errs = append(errs, csiDriverNameErrs(spec.CSI.Driver, p.Child("driver"))...)
			if spec.CSI.VolumeHandle == "" {
				errs = append(errs, field.Required(p.Child("volumeHandle"), ""))
			}
		}
	}
	if count == 0 {
		errs = append(errs, field.Required(sp, "must specify a volume type"))
	}
	return errs
}

// localPathErrs: a required path without "..".
func localPathErrs(p string, fp *field.Path) field.ErrorList {
	if p == "" {
		return field.ErrorList{field.Required(fp, "")}
	}
	for _, part := range strings.Split(strings.ReplaceAll(p, `\`, "/"), "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(fp, p, "must not contain '..'")}
		}
	}
	return nil
}

func csiDriverNameErrs(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p, ""))
	}
	if len(name) > 63 {
		errs = append(errs, field.TooLong(p, "", 63))
	}
	return append(errs, validateDNSSubdomain(strings.ToLower(name), p)...)
}

// persistentVolumeUpdateErrs: the volume source never changes, nor the
// volume mode; node affinity may be set once.
func persistentVolumeUpdateErrs(pv, old *corev1.PersistentVolume) field.ErrorList {
	var errs field.ErrorList
	newSrc := pv.Spec.PersistentVolumeSource.DeepCopy()
	if old.Spec.CSI != nil && old.Spec.CSI.ControllerExpandSecretRef == nil && newSrc.CSI != nil {
		newSrc.CSI.ControllerExpandSecretRef = nil // may be added later
	}
	if !apiequality.Semantic.DeepEqual(*newSrc, old.Spec.PersistentVolumeSource) {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pv.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	if old.Spec.NodeAffinity != nil && !apiequality.Semantic.DeepEqual(pv.Spec.NodeAffinity, old.Spec.NodeAffinity) {
		errs = append(errs, field.Invalid(field.NewPath("nodeAffinity"), pv.Spec.NodeAffinity, apivalidation.FieldImmutableErrorMsg+", except for updating from beta label to GA"))
	}
	if old.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "volumeAttributesClassName"), "update from non-nil value to nil is forbidden"))
	}
	return errs
}
