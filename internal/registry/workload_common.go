package registry

// Helpers shared by the workload resources: core's object-metadata rules,
// selector checks, and the cells upstream's printers share.

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateKubeMeta is core's ValidateObjectMeta: the generic checks plus
// the rule that unqualified finalizers must be standard ones.
func validateKubeMeta(om *metav1.ObjectMeta, namespaced bool, name apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(om, namespaced, name, metadataPath)
	return append(errs, validateKubeFinalizers(om.Finalizers)...)
}

// validateKubeMetaUpdate is core's ValidateObjectMetaUpdate.
func validateKubeMetaUpdate(om, old *metav1.ObjectMeta) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(om, old, metadataPath)
	return append(errs, validateKubeFinalizers(om.Finalizers)...)
}

func validateKubeFinalizers(finalizers []string) field.ErrorList {
	var errs field.ErrorList
	for i, f := range finalizers {
		if !strings.Contains(f, "/") && !standardFinalizers[f] {
			errs = append(errs, field.Invalid(metadataPath.Child("finalizers").Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// validateWorkloadSelector is the selector check of deployments, replica
// sets and statefulsets: required, well formed and not empty. It returns
// the parsed selector, or nil when it does not parse.
func validateWorkloadSelector(sel *metav1.LabelSelector, kind string, path *field.Path) (labels.Selector, field.ErrorList) {
	var errs field.ErrorList
	if sel == nil {
		errs = append(errs, field.Required(path, ""))
	} else {
		errs = append(errs, metavalidation.ValidateLabelSelector(sel, metavalidation.LabelSelectorValidationOptions{}, path)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(path, sel, "empty selector is invalid for "+kind))
		}
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, errs
	}
	return s, errs
}

// validateNonnegative32 is ValidateNonnegativeField for an int32 field.
func validateNonnegative32(v int32, path *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(int64(v), path)
}

func validateOptionalNonnegative(v *int32, path *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return validateNonnegative32(*v, path)
}

// validatePositiveIntOrPercent is upstream's ValidatePositiveIntOrPercent.
func validatePositiveIntOrPercent(v intstr.IntOrString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(path, v, msg))
		}
	case intstr.Int:
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v.IntValue()), path)...)
	default:
		errs = append(errs, field.Invalid(path, v, "must be an integer or percentage (e.g '5%%')"))
	}
	return errs
}

// percentValue reads "25%" as 25.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(validation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n := 0
	for _, r := range strings.TrimSuffix(v.StrVal, "%") {
		n = n*10 + int(r-'0')
	}
	return n, true
}

// intOrPercentValue is the number of an int or of a percentage.
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	return v.IntValue()
}

func validateNotMoreThan100Percent(v intstr.IntOrString, path *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(path, v, "must not be greater than 100%")}
	}
	return nil
}

// containerCells are the Containers and Images cells of upstream's wide
// tables: names and images joined by commas.
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}

// Columns most workload tables share, described as upstream describes them.
var (
	containersColumn = metav1.TableColumnDefinition{Name: "Containers", Type: "string", Priority: 1, Description: "Names of each container in the template."}
	imagesColumn     = metav1.TableColumnDefinition{Name: "Images", Type: "string", Priority: 1, Description: "Images referenced by each container in the template."}
)
