package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// newWatchTestServer is a bootstrapped server on a store in a temp dir.
func newWatchTestServer(tb testing.TB) (*Server, http.Handler) {
	dir := tb.TempDir()
	st, err := store.Open(store.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		tb.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Request{CommonName: "api", DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		tb.Fatal(err)
	}
	reg, err := registry.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Store: st, Registry: reg, CA: ca, CertPEM: cert, KeyPEM: key})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.bootstrap(asLoopback(context.Background())); err != nil {
		tb.Fatal(err)
	}
	return s, loopbackHandler(s)
}

func loopbackHandler(s *Server) http.Handler {
	return s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r.WithContext(asLoopback(r.Context())))
	}))
}

// The shared frame is, byte for byte, what the former per-watcher path
// wrote: the serializer's JSON inside a WatchEvent through json.Encoder,
// which escapes HTML and line separators.
func TestEncodeWatchFrame(t *testing.T) {
	c := newCodecs()
	for _, tc := range []struct {
		name string
		typ  watch.EventType
		obj  runtime.Object
	}{
		{"pod", watch.Added, &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "7"}}},
		{"escapes", watch.Modified, &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "b", Annotations: map[string]string{"x": "<a href='&'>\u2028\u2029\"é\t"}},
			Data:       map[string]string{"script": "if a < b && c > d {}\n"}}},
		{"metadata", watch.Deleted, partialMetadata(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "c", Labels: map[string]string{"app": "<web>"}}})},
		{"bookmark", watch.Bookmark, &corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{ResourceVersion: "9", Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw, want bytes.Buffer
			if err := c.json.Encode(tc.obj, &raw); err != nil {
				t.Fatal(err)
			}
			ev := metav1.WatchEvent{Type: string(tc.typ), Object: runtime.RawExtension{Raw: bytes.TrimSpace(raw.Bytes())}}
			if err := json.NewEncoder(&want).Encode(ev); err != nil {
				t.Fatal(err)
			}
			got, err := encodeWatchFrame(c, tc.typ, tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("frame\n%s\nwant\n%s", got, want.Bytes())
			}
		})
	}
}

// watchedEvent is what a test reads of one frame.
type watchedEvent struct {
	typ, kind, name, rv, app string
	columns                  bool
}

// Each kind of watcher sees the events its request asks for, with the
// types and resourceVersions upstream gives, all watching at once.
func TestWatchEventsPerWatcher(t *testing.T) {
	s, handler := newWatchTestServer(t)
	ctx := asLoopback(context.Background())
	res, _ := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	from := s.cfg.Store.Revision()
	pod := func(name, app, node string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
	}
	rvOf := func(obj runtime.Object) string { return obj.(*corev1.Pod).ResourceVersion }
	a, err := s.createObject(ctx, res, "default", pod("a", "web", "n1"), writeOptions{manager: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.createObject(ctx, res, "default", pod("b", "db", "n2"), writeOptions{manager: "test"})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := s.updateObject(ctx, res, requestInfo{Verb: "update", GVR: res.GVR, Namespace: "default", Name: "a"},
		writeOptions{manager: "test"}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
			p := cur.(*corev1.Pod).DeepCopy()
			p.Labels["app"] = "db"
			return p, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/v1/namespaces/default/pods/b?gracePeriodSeconds=0", nil))
	if rec.Code != http.StatusOK {
		t.Fatal(rec.Code, rec.Body.String())
	}
	deleted := strconv.FormatInt(s.cfg.Store.Revision(), 10)

	const meta = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
	const table = "application/json;as=Table;g=meta.k8s.io;v=v1"
	tests := []struct {
		name, accept, query string
		want                []watchedEvent
	}{
		{"all", "", "", []watchedEvent{
			{"ADDED", "Pod", "a", rvOf(a), "web", false}, {"ADDED", "Pod", "b", rvOf(b), "db", false},
			{"MODIFIED", "Pod", "a", rvOf(a2), "db", false}, {"DELETED", "Pod", "b", deleted, "db", false}}},
		{"leaves label selection", "", "&labelSelector=app%3Dweb", []watchedEvent{
			{"ADDED", "Pod", "a", rvOf(a), "web", false}, {"DELETED", "Pod", "a", rvOf(a2), "web", false}}},
		{"enters label selection", "", "&labelSelector=app%3Ddb", []watchedEvent{
			{"ADDED", "Pod", "b", rvOf(b), "db", false}, {"ADDED", "Pod", "a", rvOf(a2), "db", false},
			{"DELETED", "Pod", "b", deleted, "db", false}}},
		{"field selection", "", "&fieldSelector=spec.nodeName%3Dn2", []watchedEvent{
			{"ADDED", "Pod", "b", rvOf(b), "db", false}, {"DELETED", "Pod", "b", deleted, "db", false}}},
		{"metadata", meta, "", []watchedEvent{
			{"ADDED", "PartialObjectMetadata", "a", rvOf(a), "web", false}, {"ADDED", "PartialObjectMetadata", "b", rvOf(b), "db", false},
			{"MODIFIED", "PartialObjectMetadata", "a", rvOf(a2), "db", false}, {"DELETED", "PartialObjectMetadata", "b", deleted, "db", false}}},
		{"metadata leaving", meta, "&labelSelector=app%3Dweb", []watchedEvent{
			{"ADDED", "PartialObjectMetadata", "a", rvOf(a), "web", false}, {"DELETED", "PartialObjectMetadata", "a", rvOf(a2), "web", false}}},
		{"table", table, "&includeObject=Object", []watchedEvent{
			{"ADDED", "Table", "a", rvOf(a), "web", true}, {"ADDED", "Table", "b", rvOf(b), "db", false},
			{"MODIFIED", "Table", "a", rvOf(a2), "db", false}, {"DELETED", "Table", "b", deleted, "db", false}}},
	}
	// Twice over, all at once: the second watcher of each form reads what
	// the first encoded.
	got := make([][]watchedEvent, 2*len(tests))
	var wg sync.WaitGroup
	for i := range got {
		tc := tests[i%len(tests)]
		wg.Go(func() {
			got[i] = watchEventsOf(t, handler, "watch=true&resourceVersion="+strconv.FormatInt(from, 10)+tc.query, tc.accept, len(tc.want))
		})
	}
	wg.Wait()
	for i, events := range got {
		tc := tests[i%len(tests)]
		if len(events) != len(tc.want) {
			t.Errorf("%s: got %d events %+v, want %+v", tc.name, len(events), events, tc.want)
			continue
		}
		for j := range events {
			if events[j] != tc.want[j] {
				t.Errorf("%s: event %d is %+v, want %+v", tc.name, j, events[j], tc.want[j])
			}
		}
	}
}

// watchEventsOf watches until n events came (or 20 s passed).
func watchEventsOf(t *testing.T, h http.Handler, query, accept string, n int) []watchedEvent {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/namespaces/default/pods?"+query, nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(&pipeResponse{w: pw, header: http.Header{}}, r)
		pw.Close()
	}()
	defer func() { cancel(); pr.Close(); <-done }()
	var out []watchedEvent
	lines := bufio.NewScanner(pr)
	lines.Buffer(nil, 1<<20)
	for len(out) < n && lines.Scan() {
		var ev struct {
			Type   string `json:"type"`
			Object struct {
				Kind     string            `json:"kind"`
				Metadata metav1.ObjectMeta `json:"metadata"`
				Columns  []any             `json:"columnDefinitions"`
				Rows     []struct {
					Object struct {
						Metadata metav1.ObjectMeta `json:"metadata"`
					} `json:"object"`
				} `json:"rows"`
			} `json:"object"`
		}
		if err := json.Unmarshal(lines.Bytes(), &ev); err != nil {
			t.Errorf("frame %q: %v", lines.Bytes(), err)
			return out
		}
		m := ev.Object.Metadata
		if len(ev.Object.Rows) == 1 {
			m = ev.Object.Rows[0].Object.Metadata
		}
		out = append(out, watchedEvent{typ: ev.Type, kind: ev.Object.Kind, name: m.Name, rv: m.ResourceVersion,
			app: m.Labels["app"], columns: len(ev.Object.Columns) > 0})
	}
	return out
}

// pipeResponse is a streaming ResponseWriter into a pipe.
type pipeResponse struct {
	w      io.Writer
	header http.Header
}

func (p *pipeResponse) Header() http.Header         { return p.header }
func (p *pipeResponse) WriteHeader(int)             {}
func (p *pipeResponse) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p *pipeResponse) Flush()                      {}

// Watchers of one form share one decoded object and one frame; the
// window forgets the oldest objects.
func TestWatchEventsShared(t *testing.T) {
	s, _ := newWatchTestServer(t)
	ctx := asLoopback(context.Background())
	res, _ := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	from := s.cfg.Store.Revision()
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "img"}}}}
	if _, err := s.createObject(ctx, res, "default", p, writeOptions{manager: "test"}); err != nil {
		t.Fatal(err)
	}
	w, err := s.cfg.Store.Watch(ctx, resourcePrefix(res, "default"), from)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := <-w.Events()
	all, named := matchAll(res), matchAll(res)
	named.fields = fields.OneTermEqualSelector("metadata.name", "a")
	typ1, o1, err := s.watchEvent(res, all, ev)
	if err != nil {
		t.Fatal(err)
	}
	typ2, o2, err := s.watchEvent(res, named, ev)
	if err != nil {
		t.Fatal(err)
	}
	if typ1 != watch.Added || typ2 != watch.Added || o1 != o2 {
		t.Fatalf("events %s %p and %s %p: want one shared ADDED object", typ1, o1, typ2, o2)
	}
	f1, _ := o1.frame(s, watch.Added, false, false)
	f2, _ := o2.frame(s, watch.Added, false, false)
	m1, _ := o1.frame(s, watch.Added, true, false)
	p1, _ := o1.frame(s, watch.Added, false, true)
	p2, _ := o2.frame(s, watch.Added, false, true)
	if &f1[0] != &f2[0] || &p1[0] != &p2[0] || bytes.Equal(f1, m1) || bytes.Equal(f1, p1) {
		t.Fatal("frames of one form are not shared, or forms are mixed")
	}
	// More objects than the window holds: the first is decoded again.
	events := s.listCache.watchEvents
	for i := range int64(watchEventShards * watchEventsToShard) {
		kv := ev.KV
		kv.ModRevision += i + 1
		if _, err := events.object(s, res, kv, kv.ModRevision); err != nil {
			t.Fatal(err)
		}
	}
	if again, _ := events.object(s, res, ev.KV, ev.Revision()); again == o1 {
		t.Fatal("window kept more objects than its size")
	}
}
