package apiserver

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"mini.dev/mini/internal/registry"
)

// fieldManagers keeps one upstream field manager per resource and
// subresource: they record managedFields on every write and merge
// server-side apply patches, with upstream's ownership and conflicts. The
// type converter (schemas of every built-in type) is built on first use.
type fieldManagers struct {
	typeConverter func() (managedfields.TypeConverter, error)
	mu            sync.Mutex
	byKind        map[fieldManagerKey]*managedfields.FieldManager
}

type fieldManagerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

func newFieldManagers(scheme *runtime.Scheme) *fieldManagers {
	return &fieldManagers{
		typeConverter: sync.OnceValues(func() (managedfields.TypeConverter, error) {
			return applyconfigurations.NewTypeConverter(scheme), nil
		}),
		byKind: map[fieldManagerKey]*managedfields.FieldManager{},
	}
}

// defaulter adapts a resource's defaults to what the field manager calls.
type defaulter struct{ res *registry.Resource }

func (d defaulter) Default(obj runtime.Object) {
	if d.res.Default != nil {
		d.res.Default(obj)
	}
}

// get returns the field manager of a resource's subresource ("" for the
// main resource). Fields a write to it cannot change are reset, as
// upstream's strategies declare: status for the main resource, spec for
// the status subresource.
func (f *fieldManagers) get(scheme *runtime.Scheme, res *registry.Resource, sub string) (*managedfields.FieldManager, error) {
	key := fieldManagerKey{res.GroupVersionKind(), sub}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fm, ok := f.byKind[key]; ok {
		return fm, nil
	}
	tc, err := f.typeConverter()
	if err != nil {
		return nil, err
	}
	var reset map[fieldpath.APIVersion]fieldpath.Filter
	if res.HasSubresource("status") {
		owned := "status"
		if sub == "status" {
			owned = "spec"
		}
		reset = map[fieldpath.APIVersion]fieldpath.Filter{
			fieldpath.APIVersion(res.GVR.GroupVersion().String()): fieldpath.NewExcludeSetFilter(fieldpath.NewSet(fieldpath.MakePathOrDie(owned))),
		}
	}
	gv := res.GVR.GroupVersion()
	fm, err := managedfields.NewDefaultFieldManager(tc, scheme, defaulter{res}, scheme, key.gvk, gv, sub, reset)
	if err != nil {
		return nil, err
	}
	f.byKind[key] = fm
	return fm, nil
}

// managerName is the field manager of a write: the fieldManager parameter,
// or else the first part of the User-Agent, as upstream names it.
func managerName(r *http.Request) (string, error) {
	name := r.URL.Query().Get("fieldManager")
	if name != "" {
		if len(name) > 128 {
			return "", apierrors.NewBadRequest("fieldManager: Too long: must have at most 128 bytes")
		}
		for _, c := range name {
			if !unicode.IsPrint(c) {
				return "", apierrors.NewBadRequest(fmt.Sprintf("fieldManager: Invalid value: %q: must be printable", name))
			}
		}
		return name, nil
	}
	agent := strings.Split(r.UserAgent(), "/")[0]
	if len(agent) > 128 {
		agent = agent[:128]
	}
	return agent, nil
}
