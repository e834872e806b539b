package registry

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// StatefulSets as upstream serves them in apps/v1. Only replicas,
// ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy
// and minReadySeconds may change after creation. As upstream, the pod
// template's spec is not validated here (its volumes come partly from the
// claim templates); only its labels, annotations and restart rules are.
func StatefulSets() *Resource {
	return &Resource{
		GVR:          appsv1.SchemeGroupVersion.WithResource("statefulsets"),
		Kind:         "StatefulSet",
		SingularName: "statefulset",
		Namespaced:   true,
		ShortNames:   []string{"sts"},
		Categories:   []string{"all"},
		Subresources: []string{"status", "scale"},
		New:          func() runtime.Object { return &appsv1.StatefulSet{} },
		NewList:      func() runtime.Object { return &appsv1.StatefulSetList{} },
		Default:      func(obj runtime.Object) { defaultStatefulSet(obj.(*appsv1.StatefulSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*appsv1.StatefulSet).Status = appsv1.StatefulSetStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			s := obj.(*appsv1.StatefulSet)
			errs := validateKubeMeta(&s.ObjectMeta, true, apivalidation.NameIsDNSLabel)
			return append(errs, validateStatefulSetSpec(&s.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, prev := obj.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet)
			errs := validateKubeMetaUpdate(&s.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, validateStatefulSetSpec(&s.Spec, field.NewPath("spec"))...)
			rest := s.Spec.DeepCopy()
			rest.Replicas, rest.Template, rest.UpdateStrategy = prev.Spec.Replicas, prev.Spec.Template, prev.Spec.UpdateStrategy
			rest.MinReadySeconds, rest.Ordinals = prev.Spec.MinReadySeconds, prev.Spec.Ordinals
			rest.PersistentVolumeClaimRetentionPolicy = prev.Spec.PersistentVolumeClaimRetentionPolicy
			if !equality.Semantic.DeepEqual(*rest, prev.Spec) {
				errs = append(errs, field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"))
			}
			return append(errs, validateStatefulSetStatus(&s.Status, &prev.Status, field.NewPath("status"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*appsv1.StatefulSet).Spec, old.(*appsv1.StatefulSet).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Ready", Type: "string", Description: "Number of the pod with ready state"},
			ageColumn, containersColumn, imagesColumn,
		},
		Cells: func(obj runtime.Object) []any {
			s := obj.(*appsv1.StatefulSet)
			names, images := containerCells(s.Spec.Template.Spec.Containers)
			return []any{s.Name, fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, ptr.Deref(s.Spec.Replicas, 0)), age(s), names, images}
		},
		Scale: &ScaleAccess{
			Get: func(obj runtime.Object) (int32, int32, string) {
				s := obj.(*appsv1.StatefulSet)
				return ptr.Deref(s.Spec.Replicas, 0), s.Status.Replicas, selectorString(s.Spec.Selector)
			},
			Set: func(obj runtime.Object, n int32) { obj.(*appsv1.StatefulSet).Spec.Replicas = &n },
		},
	}
}

// defaultStatefulSet is apps/v1 SetDefaults_StatefulSet (with the
// MaxUnavailableStatefulSet and StatefulSetAutoDeletePVC gates on, as they
// are by default) and the defaults of the pod and claim templates.
func defaultStatefulSet(s *appsv1.StatefulSet) {
	if s.Spec.PodManagementPolicy == "" {
		s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	u := &s.Spec.UpdateStrategy
	if u.Type == "" {
		u.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if u.RollingUpdate == nil {
			u.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	if u.Type == appsv1.RollingUpdateStatefulSetStrategyType && u.RollingUpdate != nil {
		if u.RollingUpdate.Partition == nil {
			u.RollingUpdate.Partition = ptr.To[int32](0)
		}
		if u.RollingUpdate.MaxUnavailable == nil {
			u.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
	}
	if s.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	p := s.Spec.PersistentVolumeClaimRetentionPolicy
	if p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Spec.Replicas == nil {
		s.Spec.Replicas = ptr.To[int32](1)
	}
	if s.Spec.RevisionHistoryLimit == nil {
		s.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	defaultPodTemplate(&s.Spec.Template)
	for i := range s.Spec.VolumeClaimTemplates {
		c := &s.Spec.VolumeClaimTemplates[i]
		if c.Status.Phase == "" {
			c.Status.Phase = corev1.ClaimPending
		}
		defaultClaimSpec(&c.Spec)
		roundUpResources(c.Status.Capacity)
		roundUpResources(c.Status.AllocatedResources)
	}
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch spec.PodManagementPolicy {
	case "":
		errs = append(errs, field.Required(path.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		errs = append(errs, field.Invalid(path.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}
	u := spec.UpdateStrategy
	switch u.Type {
	case "":
		errs = append(errs, field.Required(path.Child("updateStrategy"), ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if u.RollingUpdate != nil {
			errs = append(errs, field.Invalid(path.Child("updateStrategy", "rollingUpdate"), u.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if r := u.RollingUpdate; r != nil {
			p := path.Child("updateStrategy", "rollingUpdate")
			errs = append(errs, validateNonnegative32(ptr.Deref(r.Partition, 0), p.Child("partition"))...)
			if m := r.MaxUnavailable; m != nil {
				errs = append(errs, validatePositiveIntOrPercent(*m, p.Child("maxUnavailable"))...)
				if intOrPercentValue(*m) == 0 {
					errs = append(errs, field.Invalid(p.Child("maxUnavailable"), *m, "cannot be 0"))
				}
				errs = append(errs, validateNotMoreThan100Percent(*m, p.Child("maxUnavailable"))...)
			}
		}
	default:
		errs = append(errs, field.Invalid(path.Child("updateStrategy"), u,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		valid := []string{string(appsv1.RetainPersistentVolumeClaimRetentionPolicyType), string(appsv1.DeletePersistentVolumeClaimRetentionPolicyType)}
		for _, f := range []struct {
			name  string
			value appsv1.PersistentVolumeClaimRetentionPolicyType
		}{{"whenDeleted", p.WhenDeleted}, {"whenScaled", p.WhenScaled}} {
			if f.value != appsv1.RetainPersistentVolumeClaimRetentionPolicyType && f.value != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
				errs = append(errs, field.NotSupported(path.Child("persistentVolumeClaimRetentionPolicy", f.name), f.value, valid))
			}
		}
	}
	errs = append(errs, validateNonnegative32(ptr.Deref(spec.Replicas, 0), path.Child("replicas"))...)
	errs = append(errs, validateNonnegative32(spec.MinReadySeconds, path.Child("minReadySeconds"))...)
	if spec.Ordinals != nil {
		errs = append(errs, validateNonnegative32(spec.Ordinals.Start, path.Child("ordinals.start"))...)
	}
	selector, selErrs := validateWorkloadSelector(spec.Selector, "statefulset", path.Child("selector"))
	errs = append(errs, selErrs...)
	if selector == nil {
		errs = append(errs, field.Invalid(path.Child("selector"), spec.Selector, ""))
	} else {
		t, tp := &spec.Template, path.Child("template")
		if !selector.Empty() && !selector.Matches(labels.Set(t.Labels)) {
			errs = append(errs, field.Invalid(tp.Child("metadata", "labels"), t.Labels, "`selector` does not match template `labels`"))
		}
		errs = append(errs, metavalidation.ValidateLabels(t.Labels, tp.Child("labels"))...)
		errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, tp.Child("annotations"))...)
		errs = append(errs, validatePodSpecificAnnotations(t.Annotations, &t.Spec, tp.Child("annotations"))...)
	}
	return append(errs, validateAlwaysRestarts(&spec.Template.Spec, path.Child("template", "spec"), "StatefulSet")...)
}

func validateStatefulSetStatus(st, old *appsv1.StatefulSetStatus, path *field.Path) field.ErrorList {
	errs := validateNonnegative32(st.Replicas, path.Child("replicas"))
	errs = append(errs, validateNonnegative32(st.ReadyReplicas, path.Child("readyReplicas"))...)
	errs = append(errs, validateNonnegative32(st.CurrentReplicas, path.Child("currentReplicas"))...)
	errs = append(errs, validateNonnegative32(st.UpdatedReplicas, path.Child("updatedReplicas"))...)
	errs = append(errs, validateNonnegative32(st.AvailableReplicas, path.Child("availableReplicas"))...)
	errs = append(errs, apivalidation.ValidateNonnegativeField(st.ObservedGeneration, path.Child("observedGeneration"))...)
	errs = append(errs, validateOptionalNonnegative(st.CollisionCount, path.Child("collisionCount"))...)
	const msg = "cannot be greater than status.replicas"
	for _, f := range []struct {
		name  string
		value int32
	}{{"readyReplicas", st.ReadyReplicas}, {"currentReplicas", st.CurrentReplicas}, {"updatedReplicas", st.UpdatedReplicas}, {"availableReplicas", st.AvailableReplicas}} {
		if f.value > st.Replicas {
			errs = append(errs, field.Invalid(path.Child(f.name), f.value, msg))
		}
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		errs = append(errs, field.Invalid(path.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than status.readyReplicas"))
	}
	return append(errs, validateCollisionCount(st.CollisionCount, old.CollisionCount, path.Child("collisionCount"))...)
}
