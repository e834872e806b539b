package apiserver

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkWatchFanOut measures serving one burst of pod events to many
// watchers of the pods collection through the handler (no TLS, no
// network): one op is every watcher receiving every event it should. The
// burst is half creates, half label updates of pods spread over nodes;
// node watchers (field selector spec.nodeName, as node agents watch) see
// their pods only, plain and metadata watchers see all.
func BenchmarkWatchFanOut(b *testing.B) {
	const pods, nodes = 1000, 8
	s, from := watchBenchServer(b, pods, nodes)
	handler := loopbackHandler(s)
	for _, c := range []struct {
		name                   string
		plain, metadata, nodes int
	}{
		{"plain=1", 1, 0, 0},
		{"plain=4", 4, 0, 0},
		{"plain=16", 16, 0, 0},
		{"plain=4,metadata=1,nodes=8", 4, 1, nodes},
	} {
		b.Run(c.name, func(b *testing.B) {
			events := 0
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				resetWatchSharing(s)
				var watchers []*watchBenchWriter
				add := func(want int, accept, query string) {
					watchers = append(watchers, &watchBenchWriter{want: want, accept: accept,
						query: "watch=true&resourceVersion=" + strconv.FormatInt(from, 10) + query, done: make(chan struct{})})
				}
				for range c.plain {
					add(2*pods, "", "")
				}
				for range c.metadata {
					add(2*pods, "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1", "")
				}
				for n := range c.nodes {
					add(2*pods/nodes, "", "&fieldSelector=spec.nodeName%3Dnode-"+strconv.Itoa(n))
				}
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				b.StartTimer()
				for _, w := range watchers {
					wg.Go(func() { w.serve(ctx, handler) })
				}
				for _, w := range watchers {
					<-w.done
					events += w.want
				}
				b.StopTimer()
				cancel()
				wg.Wait()
				for _, w := range watchers {
					if w.code != http.StatusOK {
						b.Fatal(w.code)
					}
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// watchBenchServer makes a server holding pods pods spread over nodes
// nodes, each created then relabelled; from is the revision before them.
func watchBenchServer(b *testing.B, pods, nodes int) (*Server, int64) {
	s, _ := newWatchTestServer(b)
	ctx := asLoopback(context.Background())
	res, _ := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	from := s.cfg.Store.Revision()
	// Writers in parallel share transactions; the burst stays within the
	// store's in-memory window, as live events do.
	err := forEachParallel(pods, func(i int) error {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%nodes), Containers: []corev1.Container{{Name: "app",
				Image: "registry.example/bench:v1", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
		_, err := s.createObject(ctx, res, "default", p, writeOptions{manager: "bench"})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	err = forEachParallel(pods, func(i int) error {
		info := requestInfo{Verb: "update", GVR: res.GVR, Namespace: "default", Name: fmt.Sprintf("p-%05d", i)}
		_, err := s.updateObject(ctx, res, info, writeOptions{manager: "bench"}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
			p := cur.(*corev1.Pod).DeepCopy()
			p.Labels["tier"] = "web"
			return p, nil
		})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return s, from
}

// watchBenchWriter is one watch client: it counts the frames (lines) it
// is sent and closes done at the wanted count.
type watchBenchWriter struct {
	accept, query string
	want          int
	done          chan struct{}

	header http.Header
	code   int
	frames int
}

func (w *watchBenchWriter) serve(ctx context.Context, h http.Handler) {
	w.header = http.Header{}
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/namespaces/default/pods?"+w.query, nil)
	if w.accept != "" {
		r.Header.Set("Accept", w.accept)
	}
	h.ServeHTTP(w, r)
}

func (w *watchBenchWriter) Header() http.Header  { return w.header }
func (w *watchBenchWriter) WriteHeader(code int) { w.code = code }
func (w *watchBenchWriter) Flush()               {}

func (w *watchBenchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	before := w.frames
	w.frames += bytes.Count(p, []byte{'\n'})
	if before < w.want && w.frames >= w.want {
		close(w.done)
	}
	return len(p), nil
}

// resetWatchSharing forgets the shared watch events, so that a benchmark
// round pays for decoding and encoding as live events do.
func resetWatchSharing(s *Server) { s.listCache.watchEvents = newWatchEvents() }
