package apiserver

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

const (
	// minWatchTimeout is kube-apiserver's --min-request-timeout: a watch
	// without timeoutSeconds ends after one to two times this, so clients
	// spread their re-watches.
	minWatchTimeout  = 30 * time.Minute
	bookmarkInterval = time.Minute
)

// watchStream writes watch events in the negotiated shape: JSON lines of
// metav1.WatchEvent, or for clients that ask for protobuf (the server's
// own components do) length-prefixed protobuf frames of it; each object a
// typed object, its metadata or (JSON only) a Table row. Events from the store go as frames shared with every other watcher
// of the same form; a Table depends on the request, so it is encoded here.
type watchStream struct {
	s       *Server
	w       http.ResponseWriter
	flusher http.Flusher
	res     *registry.Resource
	table   *tableOptions // nil unless the client asked for Tables
	// partial: the client (a metadata informer) asked for
	// PartialObjectMetadata, so each object goes as its metadata only.
	partial bool
	// proto: frames are protobuf, not JSON.
	proto   bool
	lastRev int64 // revision of the last event sent
}

// send writes an event of an object this request owns (initial events,
// bookmarks, errors): encoded for this stream alone.
func (ws *watchStream) send(typ watch.EventType, obj runtime.Object) error {
	if m, err := meta.Accessor(obj); err == nil {
		if rv, err := strconv.ParseInt(m.GetResourceVersion(), 10, 64); err == nil {
			ws.seen(rv)
		}
	}
	var body runtime.Object = obj
	if ws.table != nil && typ != watch.Bookmark && typ != watch.Error {
		body = ws.tableOf(obj)
	} else if ws.partial && typ != watch.Error {
		body = partialMetadata(obj)
	} else if typ != watch.Error {
		obj.GetObjectKind().SetGroupVersionKind(ws.res.GroupVersionKind())
	}
	frame, err := encodeWatchEvent(ws.s.codecs, ws.proto, typ, body)
	if err != nil {
		return err
	}
	return ws.write(frame)
}

// sendShared writes an event of a store event's shared object.
func (ws *watchStream) sendShared(typ watch.EventType, o *watchObject) error {
	ws.seen(o.rv)
	var frame []byte
	var err error
	if ws.table != nil {
		// The row may hold the object itself; it gets a copy of its own.
		frame, err = encodeWatchFrame(ws.s.codecs, typ, ws.tableOf(o.obj.DeepCopyObject()))
	} else {
		frame, err = o.frame(ws.s, typ, ws.partial, ws.proto)
	}
	if err != nil {
		return err
	}
	return ws.write(frame)
}

func (ws *watchStream) seen(rv int64) {
	if rv > ws.lastRev {
		ws.lastRev = rv
	}
}

// tableOf is obj as a one-row Table; column definitions come with the
// first event only.
func (ws *watchStream) tableOf(obj runtime.Object) *metav1.Table {
	t := toTable(ws.res, []runtime.Object{obj}, metav1.ListMeta{}, *ws.table)
	ws.table.noHeaders = true
	return t
}

func (ws *watchStream) write(frame []byte) error {
	_, err := ws.w.Write(frame)
	ws.flusher.Flush()
	return err
}

// bookmark sends a BOOKMARK carrying only a resourceVersion.
func (ws *watchStream) bookmark(rev int64, initialEventsEnd bool) error {
	obj := ws.res.New()
	m, _ := meta.Accessor(obj)
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	if initialEventsEnd {
		m.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return ws.send(watch.Bookmark, obj)
}

func (ws *watchStream) sendError(err error) {
	st := statusOf(err)
	st.Kind, st.APIVersion = "Status", "v1"
	ws.send(watch.Error, st)
}

// watch streams a collection's changes. Without a resourceVersion (or with
// "0") it starts with ADDED events for every existing object, as upstream;
// with sendInitialEvents those are followed by a bookmark that marks their
// end. A resourceVersion older than the history gets a 410 ERROR event.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	q := r.URL.Query()
	f, err := parseFilter(res, q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rv := q.Get("resourceVersion")
	sendInitial := q.Get("sendInitialEvents") == "true"
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	match := metav1.ResourceVersionMatch(q.Get("resourceVersionMatch"))
	switch {
	case sendInitial && match != metav1.ResourceVersionMatchNotOlderThan:
		s.writeError(w, r, apierrors.NewBadRequest("sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		return
	case !sendInitial && match != "":
		s.writeError(w, r, apierrors.NewBadRequest("resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		return
	case sendInitial && !bookmarks:
		s.writeError(w, r, apierrors.NewBadRequest("sendInitialEvents requires allowWatchBookmarks=true"))
		return
	}
	var from int64
	if rv != "" {
		if from, err = strconv.ParseInt(rv, 10, 64); err != nil || from < 0 {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version %q", rv)))
			return
		}
	}
	timeout := time.Duration(float64(minWatchTimeout) * (1 + rand.Float64()))
	if v := q.Get("timeoutSeconds"); v != "" {
		secs, err := strconv.ParseInt(v, 10, 64)
		if err != nil || secs < 0 {
			s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid timeoutSeconds %q", v)))
			return
		}
		timeout = time.Duration(secs) * time.Second
	}
	out, err := negotiate(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ws := &watchStream{s: s, w: w, res: res,
		partial: out.as == "PartialObjectMetadata" || out.as == "PartialObjectMetadataList"}
	if out.as == "Table" {
		opts, err := parseTableOptions(q)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		ws.table = &opts
	}
	// Tables and custom resources (unstructured) have no protobuf form:
	// those watches answer in JSON, which a client reads by the
	// response's Content-Type, as kube-apiserver does for them.
	if out.mediaType == mediaProtobuf && ws.table == nil && (ws.partial || hasProtobuf(res.New())) {
		ws.proto = true
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.writeError(w, r, apierrors.NewInternalError(errors.New("streaming unsupported")))
		return
	}
	ws.flusher = flusher

	ctx := r.Context()
	var initial []runtime.Object
	if rv == "" || rv == "0" || sendInitial {
		if from > s.cfg.Store.Revision() {
			s.writeError(w, r, apierrors.NewTimeoutError("Too large resource version", 1))
			return
		}
		objs, lm, err := s.listObjects(ctx, res, info.Namespace, listQuery{filter: f})
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		initial = objs
		from, _ = strconv.ParseInt(lm.ResourceVersion, 10, 64)
	}
	contentType := mediaJSON
	if ws.proto {
		contentType = mediaProtobuf + ";stream=watch"
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	watcher, err := s.cfg.Store.Watch(ctx, resourcePrefix(res, info.Namespace), from)
	if err != nil {
		ws.sendError(storeError(err, res.GVR.GroupResource(), ""))
		return
	}
	defer watcher.Stop()
	for _, obj := range initial {
		if ws.send(watch.Added, obj) != nil {
			return
		}
	}
	ws.lastRev = from
	if sendInitial && ws.bookmark(from, true) != nil {
		return
	}

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	ticker := time.NewTicker(bookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-ticker.C:
			if !bookmarks {
				continue
			}
			// Progress read before finding the channel empty means every
			// event up to it has been written to the client: a safe place
			// to resume, even when no event of this resource came.
			rev := watcher.Progress()
			if len(watcher.Events()) > 0 || rev < ws.lastRev {
				rev = ws.lastRev
			}
			if ws.bookmark(rev, false) != nil {
				return
			}
		case ev, ok := <-watcher.Events():
			if !ok {
				if err := watcher.Err(); err != nil && errors.Is(err, store.ErrCompacted) {
					ws.sendError(storeError(err, res.GVR.GroupResource(), ""))
				}
				return
			}
			typ, obj, err := s.watchEvent(res, f, ev)
			if err != nil {
				ws.sendError(apierrors.NewInternalError(err))
				return
			}
			if obj != nil && ws.sendShared(typ, obj) != nil {
				return
			}
		}
	}
}

// watchEvent turns a store event into the watch event a client with
// filter f sees: an object entering the selection is ADDED, one leaving it
// is DELETED (as it was, at the event's resourceVersion), and obj is nil
// when the event does not concern the client. Objects are shared between
// watchers: read them, never change them.
func (s *Server) watchEvent(res *registry.Resource, f filter, ev store.Event) (watch.EventType, *watchObject, error) {
	shared := s.listCache.watchEvents
	if ev.Type == store.EventDelete {
		prev, err := shared.object(s, res, ev.Prev, ev.Revision())
		if err != nil || !prev.matches(f) {
			return "", nil, err
		}
		return watch.Deleted, prev, nil
	}
	obj, err := shared.object(s, res, ev.KV, ev.Revision())
	if err != nil {
		return "", nil, err
	}
	now := obj.matches(f)
	if ev.Type == store.EventCreate {
		if !now {
			return "", nil, nil
		}
		return watch.Added, obj, nil
	}
	before := true
	if !f.everything() {
		prev, err := shared.object(s, res, ev.Prev, ev.Prev.ModRevision)
		if err != nil {
			return "", nil, err
		}
		before = prev.matches(f)
		if before && !now {
			left, err := shared.object(s, res, ev.Prev, ev.Revision())
			if err != nil {
				return "", nil, err
			}
			return watch.Deleted, left, nil
		}
	}
	switch {
	case now && before:
		return watch.Modified, obj, nil
	case now:
		return watch.Added, obj, nil
	}
	return "", nil, nil
}
