package registry

import (
	"strconv"

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

// DaemonSets as upstream serves them in apps/v1. Upstream's internal
// template generation counter shows in v1 as the
// deprecated.daemonset.template.generation annotation: the server sets it
// to 1 on create and adds one whenever the template changes.
func DaemonSets() *Resource {
	return &Resource{
		GVR:          appsv1.SchemeGroupVersion.WithResource("daemonsets"),
		Kind:         "DaemonSet",
		SingularName: "daemonset",
		Namespaced:   true,
		ShortNames:   []string{"ds"},
		Categories:   []string{"all"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &appsv1.DaemonSet{} },
		NewList:      func() runtime.Object { return &appsv1.DaemonSetList{} },
		Default:      func(obj runtime.Object) { defaultDaemonSet(obj.(*appsv1.DaemonSet)) },
		PrepareForCreate: func(obj runtime.Object) {
			ds := obj.(*appsv1.DaemonSet)
			ds.Status = appsv1.DaemonSetStatus{}
			setTemplateGeneration(ds, max(templateGeneration(ds), 1))
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			ds, prev := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			if sub == "status" {
				ds.Spec = prev.Spec
				return
			}
			ds.Status = prev.Status
			gen := templateGeneration(prev)
			if !equality.Semantic.DeepEqual(ds.Spec.Template, prev.Spec.Template) {
				gen++
			}
			setTemplateGeneration(ds, gen)
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			ds := obj.(*appsv1.DaemonSet)
			errs := validateKubeMeta(&ds.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			return append(errs, validateDaemonSetSpec(&ds.Spec, field.NewPath("spec"))...)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ds, prev := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
			errs := validateKubeMetaUpdate(&ds.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, validateDaemonSetSpec(&ds.Spec, field.NewPath("spec"))...)
			errs = append(errs, apivalidation.ValidateImmutableField(ds.Spec.Selector, prev.Spec.Selector, field.NewPath("spec", "selector"))...)
			return append(errs, validateDaemonSetStatus(&ds.Status, &prev.Status, field.NewPath("status"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*appsv1.DaemonSet).Spec, old.(*appsv1.DaemonSet).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Desired", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["desiredNumberScheduled"]},
			{Name: "Current", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["currentNumberScheduled"]},
			{Name: "Ready", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberReady"]},
			{Name: "Up-to-date", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["updatedNumberScheduled"]},
			{Name: "Available", Type: "integer", Description: appsv1.DaemonSetStatus{}.SwaggerDoc()["numberAvailable"]},
			{Name: "Node Selector", Type: "string", Description: corev1.PodSpec{}.SwaggerDoc()["nodeSelector"]},
			ageColumn, containersColumn, imagesColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: appsv1.DaemonSetSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any {
			ds := obj.(*appsv1.DaemonSet)
			st := ds.Status
			names, images := containerCells(ds.Spec.Template.Spec.Containers)
			return []any{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady),
				int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable), labels.FormatLabels(ds.Spec.Template.Spec.NodeSelector),
				age(ds), names, images, metav1.FormatLabelSelector(ds.Spec.Selector)}
		},
	}
}

// templateGeneration is the daemon set's template generation annotation,
// 0 when absent or unreadable.
func templateGeneration(ds *appsv1.DaemonSet) int64 {
	n, err := strconv.ParseInt(ds.Annotations[appsv1.DeprecatedTemplateGeneration], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func setTemplateGeneration(ds *appsv1.DaemonSet, gen int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[appsv1.DeprecatedTemplateGeneration] = strconv.FormatInt(gen, 10)
}

// defaultDaemonSet is apps/v1 SetDefaults_DaemonSet and the template's pod
// defaults.
func defaultDaemonSet(ds *appsv1.DaemonSet) {
	u := &ds.Spec.UpdateStrategy
	if u.Type == "" {
		u.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if u.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if u.RollingUpdate == nil {
			u.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if u.RollingUpdate.MaxUnavailable == nil {
			u.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(1))
		}
		if u.RollingUpdate.MaxSurge == nil {
			u.RollingUpdate.MaxSurge = ptr.To(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	defaultPodTemplate(&ds.Spec.Template)
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, path *field.Path) field.ErrorList {
	errs := metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, path.Child("selector"))
	if s, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !s.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	if spec.Selector != nil && len(spec.Selector.MatchLabels)+len(spec.Selector.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(path.Child("selector"), spec.Selector, "empty selector is invalid for daemonset"))
	}
	errs = append(errs, validatePodTemplateSpec(&spec.Template, path.Child("template"))...)
	errs = append(errs, validateAlwaysRestarts(&spec.Template.Spec, path.Child("template", "spec"), "DaemonSet")...)
	errs = append(errs, validateNonnegative32(spec.MinReadySeconds, path.Child("minReadySeconds"))...)
	errs = append(errs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, path.Child("updateStrategy"))...)
	return append(errs, validateOptionalNonnegative(spec.RevisionHistoryLimit, path.Child("revisionHistoryLimit"))...)
}

func validateDaemonSetUpdateStrategy(s *appsv1.DaemonSetUpdateStrategy, path *field.Path) field.ErrorList {
	switch s.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if s.RollingUpdate == nil {
			return field.ErrorList{field.Required(path.Child("rollingUpdate"), "")}
		}
		p := path.Child("rollingUpdate")
		unavailable := ptr.Deref(s.RollingUpdate.MaxUnavailable, intstr.FromInt32(0))
		surge := ptr.Deref(s.RollingUpdate.MaxSurge, intstr.FromInt32(0))
		errs := validatePositiveIntOrPercent(unavailable, p.Child("maxUnavailable"))
		errs = append(errs, validatePositiveIntOrPercent(surge, p.Child("maxSurge"))...)
		errs = append(errs, validateNotMoreThan100Percent(unavailable, p.Child("maxUnavailable"))...)
		errs = append(errs, validateNotMoreThan100Percent(surge, p.Child("maxSurge"))...)
		hasUnavailable, hasSurge := intOrPercentValue(unavailable) != 0, intOrPercentValue(surge) != 0
		switch {
		case hasUnavailable && hasSurge:
			errs = append(errs, field.Invalid(p.Child("maxSurge"), surge, "may not be set when maxUnavailable is non-zero"))
		case !hasUnavailable && !hasSurge:
			errs = append(errs, field.Required(p.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	}
	return field.ErrorList{field.NotSupported(path, s, []string{string(appsv1.RollingUpdateDaemonSetStrategyType), string(appsv1.OnDeleteDaemonSetStrategyType)})}
}

func validateDaemonSetStatus(st, old *appsv1.DaemonSetStatus, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value int32
	}{
		{"currentNumberScheduled", st.CurrentNumberScheduled}, {"numberMisscheduled", st.NumberMisscheduled},
		{"desiredNumberScheduled", st.DesiredNumberScheduled}, {"numberReady", st.NumberReady},
	} {
		errs = append(errs, validateNonnegative32(f.value, path.Child(f.name))...)
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(st.ObservedGeneration, path.Child("observedGeneration"))...)
	errs = append(errs, validateNonnegative32(st.UpdatedNumberScheduled, path.Child("updatedNumberScheduled"))...)
	errs = append(errs, validateNonnegative32(st.NumberAvailable, path.Child("numberAvailable"))...)
	errs = append(errs, validateNonnegative32(st.NumberUnavailable, path.Child("numberUnavailable"))...)
	errs = append(errs, validateOptionalNonnegative(st.CollisionCount, path.Child("collisionCount"))...)
	return append(errs, validateCollisionCount(st.CollisionCount, old.CollisionCount, path.Child("collisionCount"))...)
}
