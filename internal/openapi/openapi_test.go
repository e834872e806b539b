package openapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	protomodels "k8s.io/kube-openapi/pkg/util/proto"

	"mini.dev/mini/internal/registry"
)

func builtinRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	reg, err := registry.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// bigRegistry adds pods (recursive-free but deep types, IntOrString,
// Quantity) and a non-core group to the built-in resources.
func bigRegistry(t testing.TB) *registry.Registry {
	t.Helper()
	builtin := builtinRegistry(t)
	resources := append([]*registry.Resource{}, builtin.Resources()...)
	for _, extra := range []*registry.Resource{
		&registry.Resource{GVR: corev1.SchemeGroupVersion.WithResource("pods"), Kind: "Pod", SingularName: "pod",
			Namespaced: true, Subresources: []string{"status", "binding"},
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		&registry.Resource{GVR: appsv1.SchemeGroupVersion.WithResource("deployments"), Kind: "Deployment", SingularName: "deployment",
			Namespaced: true, Subresources: []string{"status"},
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		&registry.Resource{GVR: appsv1.SchemeGroupVersion.WithResource("controllerrevisions"), Kind: "ControllerRevision",
			Namespaced: true, ReadOnly: true,
			New: func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},
	} {
		// The builtin registry grows; these stand in only while it lacks them.
		if _, served := builtin.Lookup(extra.GVR); !served {
			resources = append(resources, extra)
		}
	}
	reg, err := registry.New(resources...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func decode(t testing.TB, data []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("invalid JSON: %v", err)
	}
	return m
}

// at follows a path of object keys through a decoded document.
func at(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// sample exercises every rule of the reflection.
type sample struct {
	metav1.TypeMeta `json:",inline"`
	Int32           int32                `json:"int32"`
	Int64           *int64               `json:"int64,omitempty"`
	Float           float64              `json:"float,omitempty"`
	Bool            bool                 `json:"bool"`
	Bytes           []byte               `json:"bytes,omitempty"`
	Map             map[string]string    `json:"map,omitempty"`
	Items           []sampleItem         `json:"items,omitempty" patchStrategy:"merge" patchMergeKey:"name"`
	Quantity        resource.Quantity    `json:"quantity"`
	Port            intstr.IntOrString   `json:"port"`
	Raw             runtime.RawExtension `json:"raw"`
	Duration        metav1.Duration      `json:"duration"`
	Micro           metav1.MicroTime     `json:"micro"`
	When            time.Time            `json:"when,omitempty"`
	Skipped         string               `json:"-"`
	AsString        int64                `json:"asString,string"`
	Self            *sample              `json:"self,omitempty"`
	Optional        *string              `json:"optional"`
	Any             any                  `json:"any,omitempty"`
	Item            sampleItem           `json:"item"`
	unexported      string
}

func (sample) SwaggerDoc() map[string]string {
	return map[string]string{"": "A sample.", "int32": "An int.", "item": "One item."}
}

type sampleItem struct {
	Name string `json:"name"`
}

func TestReflection(t *testing.T) {
	d := newDefinitions()
	name := d.define(reflect.TypeFor[sample]())
	if name != "dev.mini.mini.internal.openapi.sample" {
		t.Errorf("name = %q", name)
	}
	render := func(v specVersion, name string) map[string]any {
		w := &jsonWriter{}
		w.schema(v, d.byName[name].schema)
		return decode(t, w.b)
	}
	const (
		quantity    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
		intOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
		item        = "dev.mini.mini.internal.openapi.sampleItem"
	)
	for _, tc := range []struct {
		version specVersion
		def     string
		path    []string
		want    string
	}{
		{v3, name, []string{"description"}, `"A sample."`},
		{v3, name, []string{"type"}, `"object"`},
		{v3, name, []string{"properties", "int32"}, `{"description":"An int.","type":"integer","format":"int32","default":0}`},
		{v2, name, []string{"properties", "int32"}, `{"description":"An int.","type":"integer","format":"int32"}`},
		{v3, name, []string{"properties", "int64"}, `{"type":"integer","format":"int64"}`},
		{v3, name, []string{"properties", "float"}, `{"type":"number","format":"double"}`},
		{v3, name, []string{"properties", "bool"}, `{"type":"boolean","default":false}`},
		{v3, name, []string{"properties", "bytes"}, `{"type":"string","format":"byte"}`},
		{v3, name, []string{"properties", "map"}, `{"type":"object","additionalProperties":{"type":"string"}}`},
		{v3, name, []string{"properties", "items"}, `{"type":"array","items":{"$ref":"#/components/schemas/` + item + `"},` +
			`"x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}`},
		{v2, name, []string{"properties", "items"}, `{"type":"array","items":{"$ref":"#/definitions/` + item + `"},` +
			`"x-kubernetes-patch-merge-key":"name","x-kubernetes-patch-strategy":"merge"}`},
		{v3, name, []string{"properties", "quantity"}, `{"$ref":"#/components/schemas/` + quantity + `"}`},
		{v3, name, []string{"properties", "port"}, `{"$ref":"#/components/schemas/` + intOrString + `"}`},
		{v3, name, []string{"properties", "raw"}, `{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.runtime.RawExtension"}`},
		{v3, name, []string{"properties", "when"}, `{"type":"string","format":"date-time"}`},
		{v3, name, []string{"properties", "skipped"}, `null`},
		{v3, name, []string{"properties", "unexported"}, `null`},
		{v3, name, []string{"properties", "asString"}, `{"type":"string"}`},
		{v3, name, []string{"properties", "self"}, `{"$ref":"#/components/schemas/` + name + `"}`},
		{v3, name, []string{"properties", "any"}, `{"type":"object"}`},
		{v3, name, []string{"properties", "item"}, `{"allOf":[{"$ref":"#/components/schemas/` + item + `"}],"description":"One item.","default":{}}`},
		{v2, name, []string{"properties", "item"}, `{"$ref":"#/definitions/` + item + `","description":"One item."}`},
		{v3, name, []string{"properties", "kind", "type"}, `"string"`},
		{v3, name, []string{"required"}, `["int32","bool","quantity","port","raw","duration","micro","asString","item"]`},
		{v3, quantity, []string{"oneOf"}, `[{"type":"string"},{"type":"number"}]`},
		{v3, quantity, []string{"type"}, `null`},
		{v2, quantity, []string{"type"}, `"string"`},
		{v3, intOrString, []string{"format"}, `"int-or-string"`},
		{v3, intOrString, []string{"oneOf"}, `[{"type":"integer"},{"type":"string"}]`},
		{v2, intOrString, []string{"type"}, `"string"`},
		{v3, "io.k8s.apimachinery.pkg.runtime.RawExtension", []string{"type"}, `"object"`},
		{v3, "io.k8s.apimachinery.pkg.runtime.RawExtension", []string{"properties"}, `null`},
		{v3, "io.k8s.apimachinery.pkg.apis.meta.v1.Duration", []string{"type"}, `"string"`},
		{v3, "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime", []string{"format"}, `"date-time"`},
		{v3, item, []string{"required"}, `["name"]`},
	} {
		got, _ := json.Marshal(at(render(tc.version, tc.def), tc.path...))
		var want any
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatalf("bad want %s: %v", tc.want, err)
		}
		wantJSON, _ := json.Marshal(want)
		if !bytes.Equal(got, wantJSON) {
			t.Errorf("v%d %s %v:\n got %s\nwant %s", tc.version+2, tc.def, tc.path, got, wantJSON)
		}
	}
}

// TestDefinitions checks the documents of the built-in registry hold the
// kinds and their field docs, in both versions.
func TestDefinitions(t *testing.T) {
	b := build(builtinRegistry(t))
	docs := map[string]map[string]any{
		"v2": at(decode(t, b.v2.json), "definitions").(map[string]any),
		"v3": at(decode(t, b.v3["api/v1"].json), "components", "schemas").(map[string]any),
	}
	nonEmpty := func(v any) bool { s, _ := v.(string); return s != "" }
	for _, tc := range []struct {
		def  string
		path []string
		ok   func(any) bool
		what string
	}{
		{"io.k8s.api.core.v1.ConfigMap", []string{"properties", "data", "description"}, nonEmpty, "documented"},
		{"io.k8s.api.core.v1.ConfigMap", []string{"properties", "data", "additionalProperties", "type"}, is("string"), "map of strings"},
		{"io.k8s.api.core.v1.ConfigMap", []string{"properties", "binaryData", "additionalProperties", "format"}, is("byte"), "map of bytes"},
		{"io.k8s.api.core.v1.ConfigMap", []string{"description"}, nonEmpty, "documented"},
		{"io.k8s.api.core.v1.ConfigMap", []string{"x-kubernetes-group-version-kind"}, isJSON(`[{"group":"","kind":"ConfigMap","version":"v1"}]`), "its kind"},
		{"io.k8s.api.core.v1.ConfigMapList", []string{"required"}, isJSON(`["items"]`), "items required"},
		{"io.k8s.api.core.v1.ConfigMapList", []string{"x-kubernetes-group-version-kind"}, isJSON(`[{"group":"","kind":"ConfigMapList","version":"v1"}]`), "its kind"},
		{"io.k8s.api.core.v1.Secret", []string{"properties", "stringData", "description"}, nonEmpty, "documented"},
		{"io.k8s.api.core.v1.Namespace", []string{"properties", "spec", "description"}, nonEmpty, "documented"},
		{"io.k8s.api.core.v1.NamespaceSpec", []string{"properties", "finalizers", "items", "type"}, is("string"), "list of strings"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"properties", "name", "description"}, nonEmpty, "documented"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"properties", "name", "type"}, is("string"), "a string"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"properties", "finalizers", "x-kubernetes-patch-strategy"}, is("merge"), "merged"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"properties", "ownerReferences", "x-kubernetes-patch-merge-key"}, is("uid"), "merged by uid"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", []string{"required"}, isJSON(`null`), "nothing required"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", []string{"format"}, is("date-time"), "a date"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Time", []string{"description"}, nonEmpty, "documented"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", []string{"x-kubernetes-group-version-kind"}, func(v any) bool {
			kinds, ok := v.([]any)
			return ok && len(kinds) > 0 && isJSON(`{"group":"","kind":"DeleteOptions","version":"v1"}`)(kinds[0])
		}, "its kind in every group, core first"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Status", []string{"x-kubernetes-group-version-kind"}, isJSON(`[{"group":"","kind":"Status","version":"v1"}]`), "its kind"},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.Patch", []string{"type"}, is("object"), "an object"},
	} {
		for version, defs := range docs {
			if got := at(defs[tc.def], tc.path...); !tc.ok(got) {
				t.Errorf("%s %s %v: got %#v, want %s", version, tc.def, tc.path, got, tc.what)
			}
		}
	}
	// Every property of every definition is documented.
	for name, def := range docs["v2"] {
		props, _ := at(def, "properties").(map[string]any)
		for prop, s := range props {
			if !nonEmpty(at(s, "description")) {
				t.Errorf("%s.%s has no description", name, prop)
			}
		}
		// RawExtension's description lives only in a Go comment upstream
		// generates from; it has no SwaggerDoc to read at run time.
		if !nonEmpty(at(def, "description")) && name != "io.k8s.apimachinery.pkg.runtime.RawExtension" {
			t.Errorf("%s has no description", name)
		}
	}
}

func is(want string) func(any) bool { return func(v any) bool { return v == want } }

func isJSON(want string) func(any) bool {
	return func(v any) bool {
		got, _ := json.Marshal(v)
		var w any
		json.Unmarshal([]byte(want), &w)
		wantJSON, _ := json.Marshal(w)
		return bytes.Equal(got, wantJSON)
	}
}

// TestRefsResolve checks every reference of every document names a
// definition of that document, and that v3 references stand alone (siblings
// go through allOf) as kube-apiserver writes them.
func TestRefsResolve(t *testing.T) {
	for _, reg := range []*registry.Registry{builtinRegistry(t), bigRegistry(t)} {
		b := build(reg)
		docs := map[string][]byte{"v2": b.v2.json}
		for p, doc := range b.v3 {
			docs[p] = doc.json
		}
		for name, data := range docs {
			doc := decode(t, data)
			prefix, defs := "#/components/schemas/", at(doc, "components", "schemas")
			if name == "v2" {
				prefix, defs = "#/definitions/", at(doc, "definitions")
			}
			refs := 0
			var walk func(v any)
			walk = func(v any) {
				switch v := v.(type) {
				case map[string]any:
					if ref, ok := v["$ref"].(string); ok {
						refs++
						if !strings.HasPrefix(ref, prefix) || at(defs, strings.TrimPrefix(ref, prefix)) == nil {
							t.Errorf("%s: unresolved $ref %q", name, ref)
						}
						if name != "v2" && len(v) != 1 {
							t.Errorf("%s: $ref %q has siblings", name, ref)
						}
					}
					for _, e := range v {
						walk(e)
					}
				case []any:
					for _, e := range v {
						walk(e)
					}
				}
			}
			walk(doc)
			if refs == 0 {
				t.Errorf("%s: no references", name)
			}
		}
	}
}

// TestOperations checks the paths and operations of each group version.
func TestOperations(t *testing.T) {
	b := build(bigRegistry(t))
	core, apps := decode(t, b.v3["api/v1"].json), decode(t, b.v3["apis/apps/v1"].json)
	for _, tc := range []struct {
		doc    map[string]any
		path   string
		method string
		id     string
		action string
	}{
		{core, "/api/v1/", "get", "getCoreV1APIResources", ""},
		{core, "/api/v1/namespaces", "get", "listCoreV1Namespace", "list"},
		{core, "/api/v1/namespaces", "post", "createCoreV1Namespace", "post"},
		{core, "/api/v1/namespaces/{name}", "patch", "patchCoreV1Namespace", "patch"},
		{core, "/api/v1/namespaces/{name}/status", "get", "readCoreV1NamespaceStatus", "get"},
		{core, "/api/v1/namespaces/{name}/status", "patch", "patchCoreV1NamespaceStatus", "patch"},
		{core, "/api/v1/namespaces/{name}/finalize", "put", "replaceCoreV1NamespaceFinalize", "put"},
		{core, "/api/v1/configmaps", "get", "listCoreV1ConfigMapForAllNamespaces", "list"},
		{core, "/api/v1/namespaces/{namespace}/configmaps", "delete", "deleteCoreV1CollectionNamespacedConfigMap", "deletecollection"},
		{core, "/api/v1/namespaces/{namespace}/configmaps/{name}", "get", "readCoreV1NamespacedConfigMap", "get"},
		{core, "/api/v1/namespaces/{namespace}/configmaps/{name}", "put", "replaceCoreV1NamespacedConfigMap", "put"},
		{core, "/api/v1/namespaces/{namespace}/configmaps/{name}", "delete", "deleteCoreV1NamespacedConfigMap", "delete"},
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/status", "put", "replaceCoreV1NamespacedPodStatus", "put"},
		{apps, "/apis/apps/v1/", "get", "getAppsV1APIResources", ""},
		{apps, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch", "patchAppsV1NamespacedDeployment", "patch"},
		{apps, "/apis/apps/v1/deployments", "get", "listAppsV1DeploymentForAllNamespaces", "list"},
		{apps, "/apis/apps/v1/namespaces/{namespace}/controllerrevisions/{name}", "get", "readAppsV1NamespacedControllerRevision", "get"},
	} {
		op := at(tc.doc, "paths", tc.path, tc.method)
		if op == nil {
			t.Errorf("%s %s: missing", tc.method, tc.path)
			continue
		}
		if got := at(op, "operationId"); got != tc.id {
			t.Errorf("%s %s: operationId %v, want %s", tc.method, tc.path, got, tc.id)
		}
		if got, _ := at(op, "x-kubernetes-action").(string); got != tc.action {
			t.Errorf("%s %s: action %q, want %q", tc.method, tc.path, got, tc.action)
		}
	}
	for _, absent := range []struct {
		doc          map[string]any
		path, method string
	}{
		{core, "/api/v1/namespaces/{namespace}/pods/{name}/binding", ""}, // its kind is not the registry's to say
		{core, "/api/v1/componentstatuses/{name}", "patch"},              // read-only
		{core, "/api/v1/componentstatuses", "post"},
		{core, "/apis/apps/v1/deployments", ""},
		{apps, "/api/v1/configmaps", ""},
	} {
		path := []string{"paths", absent.path}
		if absent.method != "" {
			path = append(path, absent.method)
		}
		if at(absent.doc, path...) != nil {
			t.Errorf("%v is served but should not be", path)
		}
	}

	// Parameters every operation of a path shares sit on the path; PATCH
	// keeps its own (kubectl looks only there for fieldValidation).
	item := at(core, "paths", "/api/v1/namespaces/{namespace}/configmaps/{name}")
	if got := paramNames(at(item, "parameters")); got != "name,namespace,pretty" {
		t.Errorf("path parameters %s", got)
	}
	if got := paramNames(at(item, "patch", "parameters")); got != "dryRun,fieldManager,fieldValidation,force" {
		t.Errorf("patch parameters %s", got)
	}
	if got := paramNames(at(core, "paths", "/api/v1/namespaces/{name}/finalize", "parameters")); got != "dryRun,fieldManager,fieldValidation,name,pretty" {
		t.Errorf("finalize path parameters %s", got)
	}
	// Deleting a namespace answers with the namespace, as upstream.
	if got := at(item, "delete", "responses", "200", "content", "application/json", "schema", "$ref"); got != "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status" {
		t.Errorf("configmap delete answers %v", got)
	}
	if got := at(core, "paths", "/api/v1/namespaces/{name}", "delete", "responses", "200", "content", "application/json", "schema", "$ref"); got != "#/components/schemas/io.k8s.api.core.v1.Namespace" {
		t.Errorf("namespace delete answers %v", got)
	}
	// The apps document holds only what its paths reach.
	if at(apps, "components", "schemas", "io.k8s.api.core.v1.ConfigMap") != nil {
		t.Error("apps/v1 document holds ConfigMap")
	}
	if at(apps, "components", "schemas", "io.k8s.api.core.v1.PodSpec") == nil {
		t.Error("apps/v1 document lacks PodSpec")
	}
}

func paramNames(v any) string {
	var names []string
	for _, p := range v.([]any) {
		names = append(names, at(p, "name").(string))
	}
	return strings.Join(names, ",")
}

func TestServeHTTP(t *testing.T) {
	d := New(builtinRegistry(t))
	if d.built != nil {
		t.Fatal("built before the first request")
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	get := func(path string, header ...string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	body := func(resp *http.Response) []byte {
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return buf.Bytes()
	}

	resp := get("/openapi/v3")
	disc := decode(t, body(resp))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Etag") == "" {
		t.Fatalf("/openapi/v3: %d %v", resp.StatusCode, resp.Header)
	}
	url, _ := at(disc, "paths", "api/v1", "serverRelativeURL").(string)
	if !strings.HasPrefix(url, "/openapi/v3/api/v1?hash=") || len(url) != len("/openapi/v3/api/v1?hash=")+128 {
		t.Fatalf("serverRelativeURL %q", url)
	}
	hash := strings.TrimPrefix(url, "/openapi/v3/api/v1?hash=")
	etag := `"` + hash + `"`

	protoV2Accept := "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	protoV3Accept := "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"
	for _, tc := range []struct {
		name        string
		method      string
		path        string
		header      []string
		code        int
		contentType string
		check       func(t *testing.T, resp *http.Response, body []byte)
	}{
		{"v3 by hash", "GET", url, nil, 200, "application/json", func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Cache-Control") != "public, immutable" || resp.Header.Get("Etag") != etag || resp.Header.Get("Expires") == "" {
				t.Errorf("headers %v", resp.Header)
			}
			if doc := decode(t, body); at(doc, "openapi") != "3.0.0" || at(doc, "info", "title") != "Kubernetes" {
				t.Errorf("not an OpenAPI 3.0.0 document")
			}
		}},
		{"v3 without hash", "GET", "/openapi/v3/api/v1", nil, 200, "application/json", func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Cache-Control") != "" || resp.Header.Get("Etag") != etag {
				t.Errorf("headers %v", resp.Header)
			}
		}},
		{"v3 stale hash", "GET", "/openapi/v3/api/v1?hash=0123", nil, 301, "", func(t *testing.T, resp *http.Response, body []byte) {
			if resp.Header.Get("Location") != url {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), url)
			}
		}},
		{"v3 not modified", "GET", url, []string{"If-None-Match", etag}, 304, "", nil},
		{"v3 protobuf", "GET", url, []string{"Accept", protoV3Accept}, 200, "application/com.github.proto-openapi.spec.v3.v1.0+protobuf",
			func(t *testing.T, resp *http.Response, body []byte) {
				var doc openapi_v3.Document
				if err := proto.Unmarshal(body, &doc); err != nil || doc.GetOpenapi() != "3.0.0" {
					t.Errorf("protobuf: %v %q", err, doc.GetOpenapi())
				}
			}},
		{"v3 unknown group", "GET", "/openapi/v3/apis/nothing.example/v1", nil, 404, "application/json", nil},
		{"v3 bare prefix", "GET", "/openapi/v3/", nil, 404, "application/json", nil},
		{"v2 json", "GET", "/openapi/v2", nil, 200, "application/json", func(t *testing.T, resp *http.Response, body []byte) {
			if at(decode(t, body), "swagger") != "2.0" || resp.Header.Get("Etag") == "" {
				t.Error("not a swagger 2.0 document")
			}
		}},
		{"v2 protobuf", "GET", "/openapi/v2", []string{"Accept", protoV2Accept}, 200, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
			func(t *testing.T, resp *http.Response, body []byte) {
				var doc openapi_v2.Document
				if err := proto.Unmarshal(body, &doc); err != nil || doc.GetSwagger() != "2.0" {
					t.Errorf("protobuf: %v %q", err, doc.GetSwagger())
				}
			}},
		{"v2 preferred by quality", "GET", "/openapi/v2", []string{"Accept", "application/json;q=0.5, " + protoV2Accept}, 200,
			"application/com.github.proto-openapi.spec.v2.v1.0+protobuf", nil},
		{"v2 wildcard", "GET", "/openapi/v2", []string{"Accept", "*/*"}, 200, "application/json", nil},
		{"v2 unacceptable", "GET", "/openapi/v2", []string{"Accept", "text/html"}, 406, "application/json", nil},
		{"head", "HEAD", "/openapi/v2", nil, 200, "application/json", nil},
		{"post", "POST", "/openapi/v2", nil, 405, "application/json", nil},
		{"unknown", "GET", "/openapi/v4", nil, 404, "application/json", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			for i := 0; i+1 < len(tc.header); i += 2 {
				req.Header.Set(tc.header[i], tc.header[i+1])
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data := body(resp)
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, data)
			}
			if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tc.contentType)
			}
			if tc.check != nil {
				tc.check(t, resp, data)
			}
		})
	}
}

// TestProtobufV2 checks the v2 protobuf is the JSON document as gnostic
// reads it, and that kubectl's v2 model parser takes it.
func TestProtobufV2(t *testing.T) {
	for name, reg := range map[string]*registry.Registry{"builtin": builtinRegistry(t), "big": bigRegistry(t)} {
		d := New(reg)
		data, err := d.docs().v2.protobuf()
		if err != nil {
			t.Fatal(err)
		}
		var got openapi_v2.Document
		if err := proto.Unmarshal(data, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := openapi_v2.ParseDocument(d.docs().v2.json)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&got, want) {
			t.Errorf("%s: protobuf differs from the JSON document", name)
		}
		models, err := protomodels.NewOpenAPIData(&got)
		if err != nil {
			t.Fatalf("%s: kubectl's parser rejects the document: %v", name, err)
		}
		if models.LookupModel("io.k8s.api.core.v1.ConfigMap") == nil {
			t.Errorf("%s: no ConfigMap model", name)
		}
	}
}

// TestBuildTime checks building is lazy and cheap.
func TestBuildTime(t *testing.T) {
	for name, reg := range map[string]*registry.Registry{"builtin": builtinRegistry(t), "big": bigRegistry(t)} {
		b := build(reg)
		size := len(b.v2.json)
		for _, d := range b.v3 {
			size += len(d.json)
		}
		// Wall-clock time is a benchmark's business, not a test's.
		t.Logf("%s: built in %v, %d KiB of JSON", name, b.took, size>>10)
		if size == 0 {
			t.Errorf("%s: built nothing", name)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	reg := builtinRegistry(b)
	for b.Loop() {
		build(reg)
	}
}
