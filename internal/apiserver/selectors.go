package apiserver

import (
	"fmt"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
)

// filter is a request's label and field selectors.
type filter struct {
	labels labels.Selector
	fields fields.Selector
	res    *registry.Resource
}

// parseFilter reads labelSelector and fieldSelector; a field the resource
// does not offer is refused as upstream refuses it.
func parseFilter(r *registry.Resource, q url.Values) (filter, error) {
	f := matchAll(r)
	var err error
	if s := q.Get("labelSelector"); s != "" {
		if f.labels, err = labels.Parse(s); err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	if s := q.Get("fieldSelector"); s != "" {
		if f.fields, err = fields.ParseSelector(s); err != nil {
			return f, apierrors.NewBadRequest(fmt.Sprintf("invalid field selector: %v", err))
		}
		supported := objectFields(r, r.New())
		for _, req := range f.fields.Requirements() {
			if _, ok := supported[req.Field]; !ok {
				return f, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", req.Field))
			}
		}
	}
	return f, nil
}

// objectFields are the selectable fields of obj.
func objectFields(r *registry.Resource, obj runtime.Object) fields.Set {
	set := fields.Set{}
	if r.Fields != nil {
		set = r.Fields(obj)
	}
	if m, err := meta.Accessor(obj); err == nil {
		set["metadata.name"] = m.GetName()
		if r.Namespaced {
			set["metadata.namespace"] = m.GetNamespace()
		}
	}
	return set
}

// matchAll is the filter without selectors.
func matchAll(r *registry.Resource) filter {
	return filter{labels: labels.Everything(), fields: fields.Everything(), res: r}
}

func (f filter) everything() bool {
	return (f.labels == nil || f.labels.Empty()) && (f.fields == nil || f.fields.Empty())
}

func (f filter) matches(obj runtime.Object) bool {
	if f.everything() {
		return true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return false
	}
	return f.labels.Matches(labels.Set(m.GetLabels())) && f.fields.Matches(objectFields(f.res, obj))
}
