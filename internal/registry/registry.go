package registry

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Resource is one served resource. The zero values of the hooks mean "no
// special behaviour".
type Resource struct {
	GVR          schema.GroupVersionResource
	Kind         string
	SingularName string
	Namespaced   bool
	ShortNames   []string
	Categories   []string
	// Subresources served besides the main resource, such as "status".
	Subresources []string
	// ReadOnly resources answer only get, list and watch.
	ReadOnly bool
	// Virtual resources are answered by the server itself and never
	// stored (access and token reviews): create is their only verb.
	Virtual bool

	// New and NewList make empty typed objects.
	New     func() runtime.Object
	NewList func() runtime.Object

	// PrepareForCreate clears what a client may not set on create (status,
	// for resources with a status subresource).
	PrepareForCreate func(obj runtime.Object)
	// PrepareForUpdate carries over from old what a write to the main
	// resource may not change (status), or to a subresource what it may
	// (only status), depending on subresource.
	PrepareForUpdate func(obj, old runtime.Object, subresource string)
	// Default fills in upstream's defaults.
	Default func(obj runtime.Object)
	// Validate checks a new object; ValidateUpdate checks a change.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// SpecChanged reports whether a change must bump metadata.generation;
	// nil means the resource has no generation.
	SpecChanged func(obj, old runtime.Object) bool
	// Columns and Cells make `kubectl get`'s table; Name and Age are added
	// around Cells when UseDefaultTable is set.
	Columns []metav1.TableColumnDefinition
	Cells   func(obj runtime.Object) []any
	// Fields are the selectable fields beyond metadata.name and
	// metadata.namespace, as upstream offers them per resource.
	Fields func(obj runtime.Object) fields.Set
	// HoldsDeletion reports whether something besides metadata.finalizers
	// keeps a deleted object (a namespace's spec.finalizers).
	HoldsDeletion func(obj runtime.Object) bool
	// BeginDeletion marks an object whose deletion waits (a namespace goes
	// Terminating).
	BeginDeletion func(obj runtime.Object)
	// Scale serves the scale subresource (an autoscaling/v1 Scale) of
	// resources that list "scale" in Subresources.
	Scale *ScaleAccess
	// Storage, when set, keeps this resource's objects in the store as
	// another resource's (events.k8s.io events are core events, as upstream
	// stores them), so both APIs see the same objects.
	Storage *StoredAs
	// ReturnDeletedObject answers a delete with the object instead of a
	// Status, as upstream does for some resources.
	ReturnDeletedObject bool
}

// StoredAs names the resource whose objects stand in the store for this
// one's, and converts between the two.
type StoredAs struct {
	GVR  schema.GroupVersionResource
	New  func() runtime.Object
	To   func(obj runtime.Object) runtime.Object // this resource's object to the stored one
	From func(obj runtime.Object) runtime.Object // the stored object to this resource's
}

// ScaleAccess reads and writes the replicas behind a scale subresource.
type ScaleAccess struct {
	// Get returns spec.replicas, status.replicas and the label selector
	// (in its string form) of obj.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// Set sets spec.replicas of obj.
	Set func(obj runtime.Object, replicas int32)
}

// GroupVersionKind of the resource's objects.
func (r *Resource) GroupVersionKind() schema.GroupVersionKind {
	return r.GVR.GroupVersion().WithKind(r.Kind)
}

// HasSubresource says whether sub is served.
func (r *Resource) HasSubresource(sub string) bool { return slices.Contains(r.Subresources, sub) }

// Verbs are the verbs discovery lists for the main resource.
func (r *Resource) Verbs() []string {
	if r.Virtual {
		return []string{"create"}
	}
	if r.ReadOnly {
		return []string{"get", "list", "watch"}
	}
	return []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
}

// Registry is the set of served resources.
type Registry struct {
	resources []*Resource
	byGVR     map[schema.GroupVersionResource]*Resource
}

// New builds a registry from resources; it rejects duplicates.
func New(resources ...*Resource) (*Registry, error) {
	reg := &Registry{byGVR: map[schema.GroupVersionResource]*Resource{}}
	for _, r := range resources {
		if _, dup := reg.byGVR[r.GVR]; dup {
			return nil, fmt.Errorf("registry: %s registered twice", r.GVR)
		}
		reg.byGVR[r.GVR] = r
		reg.resources = append(reg.resources, r)
	}
	return reg, nil
}

// Lookup finds a resource by group, version and plural name.
func (reg *Registry) Lookup(gvr schema.GroupVersionResource) (*Resource, bool) {
	r, ok := reg.byGVR[gvr]
	return r, ok
}

// Resources lists every resource in registration order.
func (reg *Registry) Resources() []*Resource { return reg.resources }

// GroupVersions lists the served group versions, core first, in
// registration order: the order discovery presents them in.
func (reg *Registry) GroupVersions() []schema.GroupVersion {
	var out []schema.GroupVersion
	for _, r := range reg.resources {
		if gv := r.GVR.GroupVersion(); !slices.Contains(out, gv) {
			out = append(out, gv)
		}
	}
	return out
}
