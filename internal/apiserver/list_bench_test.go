package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// BenchmarkListPods measures a LIST of 10,000 pods as JSON through the
// handler, without TLS: decoding, filtering and encoding.
func BenchmarkListPods(b *testing.B) {
	dir := b.TempDir()
	st, err := store.Open(store.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ca, _ := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	cert, key, _ := ca.Issue(pki.Request{CommonName: "api", DNSNames: []string{"localhost"}, Server: true})
	reg, _ := registry.Builtin()
	s, err := New(Config{Store: st, Registry: reg, CA: ca, CertPEM: cert, KeyPEM: key})
	if err != nil {
		b.Fatal(err)
	}
	ctx := asLoopback(context.Background())
	if err := s.bootstrap(ctx); err != nil {
		b.Fatal(err)
	}
	pods, _ := reg.Lookup(corev1.SchemeGroupVersion.WithResource("pods"))
	for i := range 10000 {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": "bench"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/bench:v1",
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}}}
		if _, err := s.createObject(ctx, pods, "default", p, writeOptions{manager: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	handler := s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r.WithContext(asLoopback(r.Context())))
	}))
	b.ResetTimer()
	for range b.N {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/namespaces/default/pods", nil))
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
