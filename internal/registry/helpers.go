package registry

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var metadataPath = field.NewPath("metadata")

// ObjectMeta is an object's metadata struct, for upstream's helpers that
// take one.
func ObjectMeta(obj runtime.Object) (*metav1.ObjectMeta, error) {
	a, ok := obj.(metav1.ObjectMetaAccessor)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	om, ok := a.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, fmt.Errorf("%T has metadata of type %T", obj, a.GetObjectMeta())
	}
	return om, nil
}

// validateMeta runs upstream's object-metadata validation with the
// resource's name rule.
func validateMeta(obj runtime.Object, namespaced bool, name apivalidation.ValidateNameFunc) field.ErrorList {
	om, err := ObjectMeta(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	return apivalidation.ValidateObjectMeta(om, namespaced, name, metadataPath)
}

// validateMetaUpdate runs upstream's checks of a metadata change (immutable
// name, namespace, uid, creationTimestamp, ...).
func validateMetaUpdate(obj, old runtime.Object) field.ErrorList {
	nm, err := ObjectMeta(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	om, err := ObjectMeta(old)
	if err != nil {
		return field.ErrorList{field.InternalError(metadataPath, err)}
	}
	return apivalidation.ValidateObjectMetaUpdate(nm, om, metadataPath)
}

// age is the value of a table's Age cell, rendered by the server as
// upstream's printers do ("5m", "3d4h").
func age(obj runtime.Object) any {
	m, err := meta.Accessor(obj)
	if err != nil {
		return "<unknown>"
	}
	created := m.GetCreationTimestamp()
	if created.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(created.Time))
}

// nameColumn and ageColumn are the columns every table has, as upstream
// describes them.
var (
	nameColumn = metav1.TableColumnDefinition{Name: "Name", Type: "string", Format: "name",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]}
	ageColumn = metav1.TableColumnDefinition{Name: "Age", Type: "string",
		Description: metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]}
)

// standardFinalizers are the finalizer names that need no domain prefix.
var standardFinalizers = map[string]bool{
	string(corev1.FinalizerKubernetes): true,
	metav1.FinalizerOrphanDependents:   true,
	metav1.FinalizerDeleteDependents:   true,
}

// validateFinalizerName checks a finalizer as upstream does: a qualified
// name, and one of the standard names when it has no domain.
func validateFinalizerName(name string, path *field.Path) field.ErrorList {
	errs := apivalidation.ValidateFinalizerName(name, path)
	if !strings.Contains(name, "/") && !standardFinalizers[name] {
		errs = append(errs, field.Invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

// splitSpecStatus is the PrepareForUpdate of resources whose status has
// its own subresource and that carry nothing else over: a status write
// keeps the old spec, any other write the old status, as upstream's
// strategies do. The object must be a pointer to a struct with Spec and
// Status fields.
func splitSpecStatus(obj, old runtime.Object, sub string) {
	keep := "Status"
	if sub == "status" {
		keep = "Spec"
	}
	reflect.ValueOf(obj).Elem().FieldByName(keep).Set(reflect.ValueOf(old).Elem().FieldByName(keep))
}
