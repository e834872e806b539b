package apiserver

import (
	"bytes"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// objectKey is the store key of an object; namespace is empty for
// cluster-scoped resources.
func objectKey(r *registry.Resource, namespace, name string) string {
	return resourcePrefix(r, namespace) + name
}

// resourcePrefix is the store prefix of a resource's objects, in one
// namespace or (namespace "") in all of them.
func resourcePrefix(r *registry.Resource, namespace string) string {
	gvr := r.GVR
	if r.Storage != nil {
		gvr = r.Storage.GVR // stored as another resource's objects
	}
	group, resource := gvr.Group, gvr.Resource
	if group == "" {
		group = "core"
	}
	p := "/registry/" + group + "/" + resource + "/"
	if namespace != "" {
		p += namespace + "/"
	}
	return p
}

// encodeObject is an object as stored: protobuf, without resourceVersion
// (the store's revision is the version).
func (s *Server) encodeObject(r *registry.Resource, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	gvk := r.GroupVersionKind()
	if r.Storage != nil {
		obj = r.Storage.To(obj)
		kinds, _, err := s.codecs.scheme.ObjectKinds(obj)
		if err != nil {
			return nil, err
		}
		gvk = kinds[0]
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	var buf bytes.Buffer
	if err := s.codecs.protobuf.Encode(obj, &buf); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", r.Kind, err)
	}
	return buf.Bytes(), nil
}

// decodeObject turns a stored value back into a typed object carrying kv's
// revision as its resourceVersion.
func (s *Server) decodeObject(r *registry.Resource, kv store.KV) (runtime.Object, error) {
	obj := r.New()
	if r.Storage != nil {
		obj = r.Storage.New()
	}
	if _, _, err := s.codecs.protobuf.Decode(kv.Value, nil, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", kv.Key, err)
	}
	setResourceVersion(obj, kv.ModRevision)
	if r.Storage != nil {
		obj = r.Storage.From(obj)
	}
	return obj, nil
}

func setResourceVersion(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
}
