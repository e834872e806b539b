package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// newFuzzServer is an API server on a fresh store whose handler treats
// every request as the cluster admin's.
func newFuzzServer(f *testing.F) http.Handler {
	dir := f.TempDir()
	st, err := store.Open(store.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		f.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Request{CommonName: "api", DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		f.Fatal(err)
	}
	reg, err := registry.Builtin()
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{Store: st, Registry: reg, CA: ca, CertPEM: cert, KeyPEM: key})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.bootstrap(context.Background()); err != nil {
		f.Fatal(err)
	}
	admin := user{Name: "admin", Groups: []string{groupMasters}}
	return s.recoverPanics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveAPI(w, r.WithContext(context.WithValue(r.Context(), userKey{}, admin)))
	}))
}

var fuzzTargets = []struct{ method, path string }{
	{http.MethodPost, "/api/v1/namespaces/default/configmaps"},
	{http.MethodPut, "/api/v1/namespaces/default/configmaps/c"},
	{http.MethodPatch, "/api/v1/namespaces/default/configmaps/c"},
	{http.MethodDelete, "/api/v1/namespaces/default/configmaps/c"},
	{http.MethodDelete, "/api/v1/namespaces/default/configmaps"},
	{http.MethodPost, "/api/v1/namespaces/default/secrets"},
	{http.MethodPut, "/api/v1/namespaces/default/secrets/s"},
	{http.MethodPatch, "/api/v1/namespaces/default/secrets/s"},
	{http.MethodPost, "/api/v1/namespaces"},
	{http.MethodPut, "/api/v1/namespaces/default"},
	{http.MethodPut, "/api/v1/namespaces/default/status"},
	{http.MethodPatch, "/api/v1/namespaces/default"},
	{http.MethodDelete, "/api/v1/namespaces/kube-public"},
}

var fuzzContentTypes = []string{
	"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
	"application/json-patch+json", "application/merge-patch+json",
	"application/strategic-merge-patch+json", "application/apply-patch+yaml", "text/plain", "",
}

// FuzzBodies sends malformed and hostile bodies to every verb: the server
// must never panic or fail with a 5xx, and every error must be a Status.
func FuzzBodies(f *testing.F) {
	handler := newFuzzServer(f)
	seeds := []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b"}}`,
		`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"stringData":{"a":"b"},"type":"kubernetes.io/tls"}`,
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","finalizers":["x"]}}`,
		`[{"op":"replace","path":"/data/a","value":"c"}]`,
		`[{"op":"move","from":"/metadata","path":"/metadata/x"}]`,
		`{"metadata":{"name":null,"resourceVersion":"abc"},"data":{"a":1}}`,
		`{"metadata":{"managedFields":[{"manager":"x","fieldsV1":{"f:nope":{}}}]}}`,
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata: {a: b}\n",
		`{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Sideways","preconditions":{"uid":"x"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment"}`,
		`{"a":` + string(bytes.Repeat([]byte("["), 10000)),
		"k8s\x00\n\x02v1\x12\tConfigMap",
		`null`, ``, `{}`, `"string"`, `{"metadata":{"name":"` + string(bytes.Repeat([]byte("a"), 300)) + `"}}`,
	}
	for i, seed := range seeds {
		f.Add(uint8(i), uint8(i), []byte(seed), i%3 == 0)
	}
	f.Fuzz(func(t *testing.T, target, contentType uint8, body []byte, dryRun bool) {
		tg := fuzzTargets[int(target)%len(fuzzTargets)]
		url := tg.path + "?fieldManager=fuzz"
		if dryRun {
			url += "&dryRun=All"
		}
		req := httptest.NewRequest(tg.method, url, bytes.NewReader(body))
		if ct := fuzzContentTypes[int(contentType)%len(fuzzContentTypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s (%s): %d %s", tg.method, tg.path, req.Header.Get("Content-Type"), rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var st struct{ Kind, Status string }
			if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Kind != "Status" || st.Status != "Failure" {
				t.Fatalf("%s %s: %d answered with %q, not a Status", tg.method, tg.path, rec.Code, rec.Body)
			}
		}
	})
}
