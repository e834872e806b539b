package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LimitRanges as upstream serves them. Upstream has no printer for them,
// so `kubectl get limits` shows the default NAME / CREATED AT table.
func LimitRanges() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("limitranges"),
		Kind:         "LimitRange",
		SingularName: "limitrange",
		Namespaced:   true,
		ShortNames:   []string{"limits"},
		New:          func() runtime.Object { return &corev1.LimitRange{} },
		NewList:      func() runtime.Object { return &corev1.LimitRangeList{} },
		Default: func(obj runtime.Object) {
			for i := range obj.(*corev1.LimitRange).Spec.Limits {
				defaultLimitRangeItem(&obj.(*corev1.LimitRange).Spec.Limits[i])
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateLimitRange(obj.(*corev1.LimitRange)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return append(validateCoreMetaUpdate(obj, old), validateLimitRange(obj.(*corev1.LimitRange))...)
		},
	}
}

// defaultLimitRangeItem is upstream's SetDefaults_LimitRangeItem: for
// containers the default limit falls back to max, and the default request
// to the default limit, then to min.
func defaultLimitRangeItem(item *corev1.LimitRangeItem) {
	for _, rl := range []corev1.ResourceList{item.Max, item.Min, item.Default, item.DefaultRequest, item.MaxLimitRequestRatio} {
		roundUpQuantities(rl)
	}
	if item.Type != corev1.LimitTypeContainer {
		return
	}
	if item.Default == nil {
		item.Default = corev1.ResourceList{}
	}
	if item.DefaultRequest == nil {
		item.DefaultRequest = corev1.ResourceList{}
	}
	fill := func(dst, src corev1.ResourceList) {
		for k, v := range src {
			if _, ok := dst[k]; !ok {
				dst[k] = v.DeepCopy()
			}
		}
	}
	fill(item.Default, item.Max)
	fill(item.DefaultRequest, item.Default)
	fill(item.DefaultRequest, item.Min)
}

var limitTypes = []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}

// validateLimitRange is upstream's ValidateLimitRange: known types each
// once, resource names fit for the type, and min <= defaultRequest <=
// default <= max for every resource.
func validateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	errs := validateCoreMeta(lr, true, apivalidation.NameIsDNSSubdomain)
	seenTypes := map[corev1.LimitType]bool{}
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		p := field.NewPath("spec", "limits").Index(i)
		errs = append(errs, limitTypeErrs(item.Type, p.Child("type"))...)
		if seenTypes[item.Type] {
			errs = append(errs, field.Duplicate(p.Child("type"), item.Type))
		}
		seenTypes[item.Type] = true
		names := map[corev1.ResourceName]bool{}
		check := func(child string, rl corev1.ResourceList) {
			for k := range rl {
				errs = append(errs, limitResourceErrs(item.Type, k, p.Child(child).Key(string(k)))...)
				names[k] = true
			}
		}
		check("max", item.Max)
		check("min", item.Min)
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			check("default", item.Default)
			check("defaultRequest", item.DefaultRequest)
		}
		if item.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := item.Min[corev1.ResourceStorage]
			_, hasMax := item.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		check("maxLimitRequestRatio", item.MaxLimitRequestRatio)
		sorted := make([]corev1.ResourceName, 0, len(names))
		for k := range names {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		compared := *item
		if item.Type == corev1.LimitTypePod {
			compared.Default, compared.DefaultRequest = nil, nil // refused above, not compared
		}
		for _, k := range sorted {
			errs = append(errs, limitOrderErrs(&compared, k, p)...)
		}
	}
	return errs
}

func limitTypeErrs(t corev1.LimitType, p *field.Path) field.ErrorList {
	errs := validateQualifiedName(string(t), p)
	if len(errs) == 0 && !strings.Contains(string(t), "/") && !slices.Contains(limitTypes, t) {
		errs = append(errs, field.Invalid(p, t, "must be a standard limit type or fully qualified"))
	}
	return errs
}

func limitResourceErrs(t corev1.LimitType, k corev1.ResourceName, p *field.Path) field.ErrorList {
	if t == corev1.LimitTypePod || t == corev1.LimitTypeContainer {
		return resName(k).containerErrs(p)
	}
	return resName(k).errs(p)
}

// limitOrderErrs compares one resource's min, max, default, default
// request and ratio, with upstream's messages.
func limitOrderErrs(item *corev1.LimitRangeItem, k corev1.ResourceName, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	lo, hasMin := item.Min[k]
	hi, hasMax := item.Max[k]
	def, hasDef := item.Default[k]
	req, hasReq := item.DefaultRequest[k]
	ratio, hasRatio := item.MaxLimitRequestRatio[k]
	key := string(k)
	if hasMin && hasMax && lo.Cmp(hi) > 0 {
		errs = append(errs, field.Invalid(p.Child("min").Key(key), lo, fmt.Sprintf("min value %s is greater than max value %s", lo.String(), hi.String())))
	}
	if hasReq && hasMin && lo.Cmp(req) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(key), req, fmt.Sprintf("min value %s is greater than default request value %s", lo.String(), req.String())))
	}
	if hasReq && hasMax && req.Cmp(hi) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(key), req, fmt.Sprintf("default request value %s is greater than max value %s", req.String(), hi.String())))
	}
	if hasReq && hasDef && req.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(key), req, fmt.Sprintf("default request value %s is greater than default limit value %s", req.String(), def.String())))
	}
	if hasDef && hasMin && lo.Cmp(def) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(key), lo, fmt.Sprintf("min value %s is greater than default value %s", lo.String(), def.String())))
	}
	if hasDef && hasMax && def.Cmp(hi) > 0 {
		errs = append(errs, field.Invalid(p.Child("default").Key(key), hi, fmt.Sprintf("default value %s is greater than max value %s", def.String(), hi.String())))
	}
	if hasRatio && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
		errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(key), ratio, fmt.Sprintf("ratio %s is less than 1", ratio.String())))
	}
	if hasRatio && hasMin && hasMax {
		r, l, h := float64(ratio.Value()), lo.Value(), hi.Value()
		if ratio.Value() < resource.MaxMilliValue && l < resource.MaxMilliValue && h < resource.MaxMilliValue {
			r, l, h = float64(ratio.MilliValue())/1000, lo.MilliValue(), hi.MilliValue()
		}
		if limit := float64(h) / float64(l); r > limit {
			errs = append(errs, field.Invalid(p.Child("maxLimitRequestRatio").Key(key), ratio, fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limit)))
		}
	}
	if !resName(k).overcommitAllowed() && hasDef && hasReq && def.Cmp(req) != 0 {
		errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(key), req, fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", def.String(), req.String(), k)))
	}
	return errs
}
