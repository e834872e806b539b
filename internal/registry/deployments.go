package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Deployments as upstream serves them in apps/v1: status is the
// controller's, the selector never changes, and the generation moves with
// the spec and with annotations (which the controller copies to its
// replica sets, and through which rollbacks used to be asked for).
func Deployments() *Resource {
	return &Resource{
		GVR:          appsv1.SchemeGroupVersion.WithResource("deployments"),
		Kind:         "Deployment",
		SingularName: "deployment",
		Namespaced:   true,
		ShortNames:   []string{"deploy"},
		Categories:   []string{"all"},
		Subresources: []string{"status", "scale"},
		New:          func() runtime.Object { return &appsv1.Deployment{} },
		NewList:      func() runtime.Object { return &appsv1.DeploymentList{} },
		Default:      func(obj runtime.Object) { defaultDeployment(obj.(*appsv1.Deployment)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.Deployment).Status = appsv1.DeploymentStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			d := obj.(*appsv1.Deployment)
			errs := validateKubeMeta(&d.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			return append(errs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			d, prev := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			errs := validateKubeMetaUpdate(&d.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
			errs = append(errs, apivalidation.ValidateImmutableField(d.Spec.Selector, prev.Spec.Selector, field.NewPath("spec", "selector"))...)
			return append(errs, validateDeploymentStatus(&d.Status, &prev.Status, field.NewPath("status"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			d, prev := obj.(*appsv1.Deployment), old.(*appsv1.Deployment)
			return !equality.Semantic.DeepEqual(d.Spec, prev.Spec) || !equality.Semantic.DeepEqual(d.Annotations, prev.Annotations)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			{Name: "Up-to-date", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["updatedReplicas"]},
			{Name: "Available", Type: "string", Description: appsv1.DeploymentStatus{}.SwaggerDoc()["availableReplicas"]},
			ageColumn, containersColumn, imagesColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: appsv1.DeploymentSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any {
			d := obj.(*appsv1.Deployment)
			names, images := containerCells(d.Spec.Template.Spec.Containers)
			return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, ptr.Deref(d.Spec.Replicas, 0)),
				int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas), age(d), names, images, selectorString(d.Spec.Selector)}
		},
		Scale: &ScaleAccess{
			Get: func(obj runtime.Object) (int32, int32, string) {
				d := obj.(*appsv1.Deployment)
				return ptr.Deref(d.Spec.Replicas, 0), d.Status.Replicas, selectorString(d.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.Deployment).Spec.Replicas = &n },
		},
	}
}

// selectorString is a label selector in its string form, "<invalid>" when
// it does not parse, as upstream's deployment printer and scale show it.
func selectorString(sel *metav1.LabelSelector) string {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return "<invalid>"
	}
	return s.String()
}

// defaultDeployment is apps/v1 SetDefaults_Deployment and the template's
// pod defaults.
func defaultDeployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr.To[int32](1)
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr.To(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	}
	defaultPodTemplate(&d.Spec.Template)
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, path *field.Path) field.ErrorList {
	errs := validateNonnegative32(ptr.Deref(spec.Replicas, 0), path.Child("replicas"))
	selector, selErrs := validateWorkloadSelector(spec.Selector, "deployment", path.Child("selector"))
	errs = append(errs, selErrs...)
	if selector == nil {
		errs = append(errs, field.Invalid(path.Child("selector"), spec.Selector, "invalid label selector"))
	} else {
		errs = append(errs, validateReplicatedTemplate(&spec.Template, selector, path.Child("template"), "ReplicaSet")...)
	}
	errs = append(errs, validateDeploymentStrategy(&spec.Strategy, path.Child("strategy"))...)
	errs = append(errs, validateNonnegative32(spec.MinReadySeconds, path.Child("minReadySeconds"))...)
	errs = append(errs, validateOptionalNonnegative(spec.RevisionHistoryLimit, path.Child("revisionHistoryLimit"))...)
	if p := spec.ProgressDeadlineSeconds; p != nil {
		errs = append(errs, validateNonnegative32(*p, path.Child("progressDeadlineSeconds"))...)
		if *p <= spec.MinReadySeconds {
			errs = append(errs, field.Invalid(path.Child("progressDeadlineSeconds"), spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return errs
}

func validateDeploymentStrategy(s *appsv1.DeploymentStrategy, path *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if s.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(path.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
	case appsv1.RollingUpdateDeploymentStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(path.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		p := path.Child("rollingUpdate")
		unavailable := ptr.Deref(s.RollingUpdate.MaxUnavailable, intstr.FromInt32(0))
		surge := ptr.Deref(s.RollingUpdate.MaxSurge, intstr.FromInt32(0))
		errs := validatePositiveIntOrPercent(unavailable, p.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(surge, p.Child("maxSurge"))...)
		if intOrPercentValue(unavailable) == 0 && intOrPercentValue(surge) == 0 {
			errs = append(errs, field.Invalid(p.Child("maxUnavailable"), unavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, validateNotMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
	default:
		return field.ErrorList{field.NotSupported(path, s, []string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
	}
	return nil
}

func validateDeploymentStatus(st, old *appsv1.DeploymentStatus, path *field.Path) field.ErrorList {
	errs := apivalidation.ValidateNonnegativeField(st.ObservedGeneration, path.Child("observedGeneration"))
	errs = append(errs, validateNonnegative32(st.Replicas, path.Child("replicas"))...)
	errs = append(errs, validateNonnegative32(st.UpdatedReplicas, path.Child("updatedReplicas"))...)
	errs = append(errs, validateNonnegative32(st.ReadyReplicas, path.Child("readyReplicas"))...)
	errs = append(errs, validateNonnegative32(st.AvailableReplicas, path.Child("availableReplicas"))...)
	errs = append(errs, validateNonnegative32(st.UnavailableReplicas, path.Child("unavailableReplicas"))...)
	errs = append(errs, validateOptionalNonnegative(st.CollisionCount, path.Child("collisionCount"))...)
	const msg = "cannot be greater than status.replicas"
	if st.UpdatedReplicas > st.Replicas {
		errs = append(errs, field.Invalid(path.Child("updatedReplicas"), st.UpdatedReplicas, msg))
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
	return append(errs, validateCollisionCount(st.CollisionCount, old.CollisionCount, path.Child("collisionCount"))...)
}

// validateCollisionCount: the count that names colliding revisions only
// grows.
func validateCollisionCount(count, old *int32, path *field.Path) field.ErrorList {
	if old == nil || (count != nil && *count >= *old) {
		return nil
	}
	return field.ErrorList{field.Invalid(path, ptr.Deref(count, 0), "cannot be decremented")}
}
