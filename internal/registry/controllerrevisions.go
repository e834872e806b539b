package registry

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ControllerRevisions as upstream serves them: the snapshots of templates
// that daemon sets and stateful sets keep for rollbacks. Their data never
// changes once written.
func ControllerRevisions() *Resource {
	return &Resource{
		GVR:          appsv1.SchemeGroupVersion.WithResource("controllerrevisions"),
		Kind:         "ControllerRevision",
		SingularName: "controllerrevision",
		Namespaced:   true,
		New:          func() runtime.Object { return &appsv1.ControllerRevision{} },
		NewList:      func() runtime.Object { return &appsv1.ControllerRevisionList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateControllerRevision(obj.(*appsv1.ControllerRevision))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			cr, prev := obj.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision)
			errs := validateKubeMetaUpdate(&cr.ObjectMeta, &prev.ObjectMeta)
			errs = append(errs, validateControllerRevision(cr)...)
			return append(errs, apivalidation.ValidateImmutableField(cr.Data, prev.Data, field.NewPath("data"))...)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Controller", Type: "string", Description: "Controller of the object"},
			{Name: "Revision", Type: "string", Description: appsv1.ControllerRevision{}.SwaggerDoc()["revision"]},
			ageColumn,
		},
		Cells: func(obj runtime.Object) []any {
			cr := obj.(*appsv1.ControllerRevision)
			controller := "<none>"
			if ref := metav1.GetControllerOf(cr); ref != nil {
				if gv, err := schema.ParseGroupVersion(ref.APIVersion); err == nil {
					controller = strings.ToLower(gv.WithKind(ref.Kind).GroupKind().String()) + "/" + ref.Name
				}
			}
			return []any{cr.Name, controller, cr.Revision, age(cr)}
		},
	}
}

func validateControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	errs := validateKubeMeta(&cr.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	return append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
}
