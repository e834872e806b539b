package registry

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// ReplicaSets as upstream serves them in apps/v1: status is the
// controller's, the selector never changes, the generation follows the
// spec.
func ReplicaSets() *Resource {
	return &Resource{
		GVR:          appsv1.SchemeGroupVersion.WithResource("replicasets"),
		Kind:         "ReplicaSet",
		SingularName: "replicaset",
		Namespaced:   true,
		ShortNames:   []string{"rs"},
		Categories:   []string{"all"},
		Subresources: []string{"status", "scale"},
		New:          func() runtime.Object { return &appsv1.ReplicaSet{} },
		NewList:      func() runtime.Object { return &appsv1.ReplicaSetList{} },
		Default: func(obj runtime.Object) {
			rs := obj.(*appsv1.ReplicaSet)
			if rs.Spec.Replicas == nil {
				rs.Spec.Replicas = ptr.To[int32](1)
			}
			defaultPodTemplate(&rs.Spec.Template)
		},
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.ReplicaSet).Status = appsv1.ReplicaSetStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			rs := obj.(*appsv1.ReplicaSet)
			errs := validateKubeMeta(&rs.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			return append(errs, validateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			rs, prev := obj.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet)
			errs := validateKubeMetaUpdate(&rs.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, validateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
			errs = append(errs, apivalidation.ValidateImmutableField(rs.Spec.Selector, prev.Spec.Selector, field.NewPath("spec", "selector"))...)
			return append(errs, validateReplicaSetStatus(&rs.Status, field.NewPath("status"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*appsv1.ReplicaSet).Spec, old.(*appsv1.ReplicaSet).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Desired", Type: "integer", Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["replicas"]},
			{Name: "Current", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["replicas"]},
			{Name: "Ready", Type: "integer", Description: appsv1.ReplicaSetStatus{}.SwaggerDoc()["readyReplicas"]},
			ageColumn, containersColumn, imagesColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: appsv1.ReplicaSetSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any {
			rs := obj.(*appsv1.ReplicaSet)
			names, images := containerCells(rs.Spec.Template.Spec.Containers)
			return []any{rs.Name, int64(ptr.Deref(rs.Spec.Replicas, 0)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
				age(rs), names, images, metav1.FormatLabelSelector(rs.Spec.Selector)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
		},
		Scale: &ScaleAccess{
			Get: func(obj runtime.Object) (int32, int32, string) {
				rs := obj.(*appsv1.ReplicaSet)
				return ptr.Deref(rs.Spec.Replicas, 0), rs.Status.Replicas, selectorString(rs.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.ReplicaSet).Spec.Replicas = &n },
		},
	}
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, path *field.Path) field.ErrorList {
	errs := validateNonnegative32(ptr.Deref(spec.Replicas, 0), path.Child("replicas"))
	errs = append(errs, validateNonnegative32(spec.MinReadySeconds, path.Child("minReadySeconds"))...)
	// Upstream says "deployment" here too.
	selector, selErrs := validateWorkloadSelector(spec.Selector, "deployment", path.Child("selector"))
	errs = append(errs, selErrs...)
	if selector == nil {
		return append(errs, field.Invalid(path.Child("selector"), spec.Selector, "invalid label selector"))
	}
	return append(errs, validateReplicatedTemplate(&spec.Template, selector, path.Child("template"), "ReplicaSet")...)
}

func validateReplicaSetStatus(st *appsv1.ReplicaSetStatus, path *field.Path) field.ErrorList {
	errs := validateNonnegative32(st.Replicas, path.Child("replicas"))
	errs = append(errs, validateNonnegative32(st.FullyLabeledReplicas, path.Child("fullyLabeledReplicas"))...)
	errs = append(errs, validateNonnegative32(st.ReadyReplicas, path.Child("readyReplicas"))...)
	errs = append(errs, validateNonnegative32(st.AvailableReplicas, path.Child("availableReplicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(st.ObservedGeneration, path.Child("observedGeneration"))...)
	const msg = "cannot be greater than status.replicas"
	if st.FullyLabeledReplicas > st.Replicas {
		errs = append(errs, field.Invalid(path.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, msg))
	}
	if st.ReadyReplicas > st.Replicas {
		errs = append(errs, field.Invalid(path.Child("readyReplicas"), st.ReadyReplicas, msg))
	}
	if st.AvailableReplicas > st.Replicas {
		errs = append(errs, field.Invalid(path.Child("availableReplicas"), st.AvailableReplicas, msg))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(path.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return errs
}
