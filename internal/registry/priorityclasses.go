package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Priority bounds, as upstream defines them.
const (
	// HighestUserPriority is the largest value a user's class may have.
	HighestUserPriority = 1000000000
	// systemCriticalPriority is the value of system-cluster-critical;
	// system-node-critical is 1000 more.
	systemCriticalPriority = 2 * HighestUserPriority
	systemPriorityPrefix   = "system-"
)

// SystemPriorityClasses are the classes upstream's API server creates at
// start (and recreates if deleted); the server must do the same. Only
// they may use the system- prefix.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: systemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: systemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

var preemptionPolicies = []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}

// PriorityClasses as upstream serves them: value and preemption policy
// never change. Only one class may be the global default; that check is
// the priority admission's, which needs the other classes.
func PriorityClasses() *Resource {
	return &Resource{
		GVR:          schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"),
		Kind:         "PriorityClass",
		SingularName: "priorityclass",
		ShortNames:   []string{"pc"},
		New:          func() runtime.Object { return &schedulingv1.PriorityClass{} },
		NewList:      func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Default: func(obj runtime.Object) {
			if pc := obj.(*schedulingv1.PriorityClass); pc.PreemptionPolicy == nil {
				p := corev1.PreemptLowerPriority
				pc.PreemptionPolicy = &p
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validatePriorityClass(obj.(*schedulingv1.PriorityClass))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pc, prev := obj.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass)
			errs := validateCoreMetaUpdate(pc, prev)
			if pc.Value != prev.Value {
				errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
			}
			return append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, prev.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Value", Type: "integer", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["value"]},
			{Name: "Global-Default", Type: "boolean", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]},
			ageColumn,
			{Name: "PreemptionPolicy", Type: "string", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]},
		},
		Cells: func(obj runtime.Object) []any {
			pc := obj.(*schedulingv1.PriorityClass)
			policy := ""
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []any{pc.Name, int64(pc.Value), pc.GlobalDefault, age(pc), policy}
		},
	}
}

// validatePriorityClass is upstream's ValidatePriorityClass.
func validatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	errs := validateCoreMeta(pc, false, apivalidation.NameIsDNSSubdomain)
	if strings.HasPrefix(pc.Name, systemPriorityPrefix) {
		if err := knownSystemPriorityClass(pc); err != nil {
			errs = append(errs, field.Forbidden(metadataPath.Child("name"),
				"priority class names with '"+systemPriorityPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserPriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserPriority)))
	}
	if p := pc.PreemptionPolicy; p != nil {
		if *p == "" {
			errs = append(errs, field.Required(field.NewPath("preemptionPolicy"), ""))
		} else if !slices.Contains(preemptionPolicies, *p) {
			errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), p, preemptionPolicies))
		}
	}
	return errs
}

func knownSystemPriorityClass(pc *schedulingv1.PriorityClass) error {
	for _, spc := range SystemPriorityClasses() {
		if spc.Name != pc.Name {
			continue
		}
		if spc.Value != pc.Value {
			return fmt.Errorf("value of %v PriorityClass must be %v", spc.Name, spc.Value)
		}
		if spc.GlobalDefault != pc.GlobalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", spc.Name, spc.GlobalDefault)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", pc.Name)
}
