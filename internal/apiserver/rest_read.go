package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// get answers GET of one object.
func (s *Server) get(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	obj, _, err := s.getObject(r.Context(), res, info.Namespace, info.Name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, res, obj)
}

// getObject reads one object and its store revision.
func (s *Server) getObject(ctx context.Context, res *registry.Resource, namespace, name string) (runtime.Object, int64, error) {
	kv, err := s.cfg.Store.Get(ctx, objectKey(res, namespace, name))
	if err != nil {
		return nil, 0, storeError(err, res.GVR.GroupResource(), name)
	}
	obj, err := s.decodeObject(res, kv)
	return obj, kv.ModRevision, err
}

// listQuery is what a list request asks for.
type listQuery struct {
	filter   filter
	limit    int64
	token    string
	revision int64 // 0: the latest
}

// parseListQuery reads the paging and resourceVersion parameters with
// upstream's rules: a continue token carries its own snapshot; an exact
// resourceVersion lists that snapshot; otherwise the latest state, which
// must not be older than a given resourceVersion.
func (s *Server) parseListQuery(res *registry.Resource, r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	f, err := parseFilter(res, q)
	if err != nil {
		return listQuery{}, err
	}
	lq := listQuery{filter: f, token: q.Get("continue")}
	if v := q.Get("limit"); v != "" {
		if lq.limit, err = strconv.ParseInt(v, 10, 64); err != nil || lq.limit < 0 {
			return lq, apierrors.NewBadRequest(fmt.Sprintf("invalid limit %q", v))
		}
	}
	rv, match := q.Get("resourceVersion"), metav1.ResourceVersionMatch(q.Get("resourceVersionMatch"))
	if lq.token != "" {
		if rv != "" && rv != "0" {
			return lq, apierrors.NewBadRequest("specifying resource version is not allowed when using continue")
		}
		return lq, nil
	}
	var want int64
	if rv != "" {
		if want, err = strconv.ParseInt(rv, 10, 64); err != nil || want < 0 {
			return lq, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv))
		}
	}
	switch match {
	case "":
	case metav1.ResourceVersionMatchExact:
		if want == 0 {
			return lq, apierrors.NewBadRequest(`resourceVersionMatch "Exact" requires a resourceVersion other than "" or "0"`)
		}
		lq.revision = want
		return lq, nil
	case metav1.ResourceVersionMatchNotOlderThan:
		if rv == "" {
			return lq, apierrors.NewBadRequest(`resourceVersionMatch "NotOlderThan" requires a resourceVersion`)
		}
	default:
		return lq, apierrors.NewBadRequest(fmt.Sprintf("unsupported resourceVersionMatch %q", match))
	}
	if cur := s.cfg.Store.Revision(); want > cur {
		return lq, apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", want, cur), 1)
	}
	return lq, nil
}

// list answers GET of a collection.
func (s *Server) list(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	lq, err := s.parseListQuery(res, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if out, err := negotiate(r); err == nil && out.mediaType == mediaJSON && out.as == "" && lq.filter.everything() {
		if err := s.listAllJSON(w, r, res, info.Namespace, lq); err != nil {
			s.writeError(w, r, err)
		}
		return
	}
	objs, lm, err := s.listObjects(r.Context(), res, info.Namespace, lq)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeList(w, r, res, objs, lm)
}

// listObjects reads the matching objects of one page. With a limit and a
// selector, it reads store pages until the page is full or the prefix is
// exhausted, as kube-apiserver does over etcd.
func (s *Server) listObjects(ctx context.Context, res *registry.Resource, namespace string, lq listQuery) ([]runtime.Object, metav1.ListMeta, error) {
	prefix := resourcePrefix(res, namespace)
	opts := store.ListOptions{Revision: lq.revision, Continue: lq.token}
	var objs []runtime.Object
	for {
		if lq.limit > 0 {
			opts.Limit = lq.limit - int64(len(objs))
		}
		page, err := s.cfg.Store.List(ctx, prefix, opts)
		if err != nil {
			return nil, metav1.ListMeta{}, storeError(err, res.GVR.GroupResource(), "")
		}
		decoded := make([]runtime.Object, len(page.KVs))
		err = forEachParallel(len(page.KVs), func(i int) (err error) {
			decoded[i], err = s.decodeObject(res, page.KVs[i])
			return err
		})
		if err != nil {
			return nil, metav1.ListMeta{}, apierrors.NewInternalError(err)
		}
		for _, obj := range decoded {
			if lq.filter.matches(obj) {
				objs = append(objs, obj)
			}
		}
		lm := metav1.ListMeta{ResourceVersion: strconv.FormatInt(page.Revision, 10), Continue: page.Continue}
		if page.Continue == "" || (lq.limit > 0 && int64(len(objs)) >= lq.limit) {
			return objs, lm, nil
		}
		opts = store.ListOptions{Continue: page.Continue}
	}
}

// writeList answers with a typed list, a Table or metadata only.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, res *registry.Resource, objs []runtime.Object, lm metav1.ListMeta) {
	out, err := negotiate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch out.as {
	case "Table":
		opts, err := parseTableOptions(r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeRaw(w, r, http.StatusOK, toTable(res, objs, lm, opts))
		return
	case "PartialObjectMetadataList", "PartialObjectMetadata":
		list := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}, ListMeta: lm}
		for _, obj := range objs {
			list.Items = append(list.Items, *partialMetadata(obj))
		}
		s.writeRaw(w, r, http.StatusOK, list)
		return
	}
	for _, obj := range objs {
		obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{}) // items carry no kind, as upstream
	}
	if out.mediaType == mediaJSON {
		if err := s.writeListJSON(w, r, res, objs, lm); err != nil {
			s.writeError(w, r, apierrors.NewInternalError(err))
		}
		return
	}
	list := res.NewList()
	if err := meta.SetList(list, objs); err != nil {
		s.writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	if la, err := meta.ListAccessor(list); err == nil {
		la.SetResourceVersion(lm.ResourceVersion)
		la.SetContinue(lm.Continue)
	}
	list.GetObjectKind().SetGroupVersionKind(res.GVR.GroupVersion().WithKind(res.Kind + "List"))
	s.writeRaw(w, r, http.StatusOK, list)
}

// writeObject answers with one object, or its Table or metadata.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, code int, res *registry.Resource, obj runtime.Object) {
	out, err := negotiate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch out.as {
	case "Table":
		opts, err := parseTableOptions(r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		lm := metav1.ListMeta{}
		if m, err := meta.Accessor(obj); err == nil {
			lm.ResourceVersion = m.GetResourceVersion()
		}
		s.writeRaw(w, r, code, toTable(res, []runtime.Object{obj}, lm, opts))
		return
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		s.writeRaw(w, r, code, partialMetadata(obj))
		return
	}
	obj.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
	s.writeRaw(w, r, code, obj)
}
