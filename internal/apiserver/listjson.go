package apiserver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// writeListJSON writes a typed list as JSON, encoding its items on every
// core: a 10,000-object list spends most of its time in encoding/json,
// and one large buffer grown by doubling costs as much again. The bytes
// are those the serializer would write for the typed list: kind,
// apiVersion, metadata, then items without kind or apiVersion.
func (s *Server) writeListJSON(w http.ResponseWriter, r *http.Request, res *registry.Resource, objs []runtime.Object, lm metav1.ListMeta) error {
	items := make([][]byte, len(objs))
	err := forEachParallel(len(objs), func(i int) error {
		b, err := json.Marshal(objs[i])
		items[i] = b
		return err
	})
	if err != nil {
		return err
	}
	return writeListEnvelope(w, r, res, items, lm)
}

// listCacheBudget bounds the JSON kept for unfiltered lists.
const listCacheBudget = 64 << 20

// listAllJSON answers an unfiltered JSON list straight from the store's
// page: items whose JSON at their revision is cached are neither decoded
// nor encoded again.
func (s *Server) listAllJSON(w http.ResponseWriter, r *http.Request, res *registry.Resource, namespace string, lq listQuery) error {
	page, err := s.cfg.Store.List(r.Context(), resourcePrefix(res, namespace),
		store.ListOptions{Revision: lq.revision, Continue: lq.token, Limit: lq.limit})
	if err != nil {
		return storeError(err, res.GVR.GroupResource(), "")
	}
	items := make([][]byte, len(page.KVs))
	err = forEachParallel(len(page.KVs), func(i int) error {
		kv := page.KVs[i]
		if b, ok := s.listCache.get(kv.Key, kv.ModRevision); ok {
			items[i] = b
			return nil
		}
		obj, err := s.decodeObject(res, kv)
		if err != nil {
			return err
		}
		obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{}) // items carry no kind
		if items[i], err = json.Marshal(obj); err != nil {
			return err
		}
		s.listCache.put(kv.Key, kv.ModRevision, items[i])
		return nil
	})
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(page.Revision, 10), Continue: page.Continue}
	return writeListEnvelope(w, r, res, items, lm)
}

// writeListEnvelope writes the list around already encoded items.
func writeListEnvelope(w http.ResponseWriter, r *http.Request, res *registry.Resource, items [][]byte, lm metav1.ListMeta) error {
	meta, err := json.Marshal(lm)
	if err != nil {
		return err
	}
	size := 64 + len(meta)
	for _, it := range items {
		size += len(it) + 1
	}
	var buf bytes.Buffer
	buf.Grow(size)
	buf.WriteString(`{"kind":`)
	buf.WriteString(strconv.Quote(res.Kind + "List"))
	buf.WriteString(`,"apiVersion":`)
	buf.WriteString(strconv.Quote(res.GVR.GroupVersion().String()))
	buf.WriteString(`,"metadata":`)
	buf.Write(meta)
	buf.WriteString(`,"items":[`)
	for i, it := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it)
	}
	buf.WriteString("]}\n")
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
	return nil
}
