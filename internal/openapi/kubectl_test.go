package openapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/openapi3"
	"k8s.io/client-go/rest"
	"k8s.io/kubectl/pkg/explain"
	explainv2 "k8s.io/kubectl/pkg/explain/v2"
	kubectlopenapi "k8s.io/kubectl/pkg/util/openapi"

	"mini.dev/mini/internal/registry"
)

// These tests read the documents the way kubectl does: over HTTP, through
// client-go's discovery and OpenAPI clients and kubectl's own code.

func discoveryFor(t *testing.T, reg *registry.Registry) *discovery.DiscoveryClient {
	t.Helper()
	srv := httptest.NewServer(New(reg))
	t.Cleanup(srv.Close)
	return discovery.NewDiscoveryClientForConfigOrDie(&rest.Config{Host: srv.URL})
}

// TestFieldValidationSupported is kubectl apply's and create's check that
// the server validates fields itself (else kubectl validates them against
// the v2 schema, or warns that it cannot).
func TestFieldValidationSupported(t *testing.T) {
	reg := bigRegistry(t)
	dc := discoveryFor(t, reg)
	// The dynamic client finds CRDs, for kinds the documents lack; there are none.
	crds := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[k8sschema.GroupVersionResource]string{
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}: "CustomResourceDefinitionList",
	})
	v3 := resource.NewQueryParamVerifierV3(crds, dc.OpenAPIV3(), resource.QueryParamFieldValidation)
	v2 := resource.NewQueryParamVerifier(crds, dc, resource.QueryParamFieldValidation)
	for _, r := range reg.Resources() {
		gvk := r.GroupVersionKind()
		for name, verifier := range map[string]resource.Verifier{"v3": v3, "v2": v2} {
			err := verifier.HasSupport(gvk)
			if r.ReadOnly || r.Virtual {
				if err == nil {
					t.Errorf("%s: %s is read-only or create-only but has a PATCH", name, gvk)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s: %s: %v", name, gvk, err)
			}
		}
	}

	// Every PATCH operation names its kind, takes fieldValidation and a
	// strategic merge patch.
	root := openapi3.NewRoot(dc.OpenAPIV3())
	gvs, err := root.GroupVersions()
	if err != nil || len(gvs) != len(reg.GroupVersions()) {
		t.Fatalf("group versions %v: %v", gvs, err)
	}
	patches := 0
	for _, gv := range gvs {
		doc, err := root.GVSpec(gv)
		if err != nil {
			t.Fatal(err)
		}
		for path, item := range doc.Paths.Paths {
			op := item.Patch
			if op == nil {
				continue
			}
			patches++
			var gvk map[string]string
			if err := op.Extensions.GetObject("x-kubernetes-group-version-kind", &gvk); err != nil || gvk["kind"] == "" || gvk["version"] != gv.Version {
				t.Errorf("%s: PATCH kind %v (%v)", path, gvk, err)
			}
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == "fieldValidation" && p.In == "query")
			}
			if !found {
				t.Errorf("%s: PATCH lacks fieldValidation", path)
			}
			if op.RequestBody == nil || op.RequestBody.Content["application/strategic-merge-patch+json"] == nil {
				t.Errorf("%s: PATCH does not take a strategic merge patch", path)
			}
		}
	}
	if patches == 0 {
		t.Error("no PATCH operations")
	}
}

// TestStrategicMergePatch is kubectl apply's three-way patch computed from
// the v3 schema: it must match the one computed from the Go types.
func TestStrategicMergePatch(t *testing.T) {
	root := openapi3.NewRoot(discoveryFor(t, bigRegistry(t)).OpenAPIV3())
	doc, err := root.GVSpec(corev1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	pod := func(images ...string) []byte {
		p := corev1.Pod{TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: "p",
			Finalizers: []string{"a/b"}, OwnerReferences: []metav1.OwnerReference{{UID: "1", Name: "o"}}}}
		for i, image := range images {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: string(rune('a' + i)), Image: image,
				Env: []corev1.EnvVar{{Name: "X", Value: image}}})
		}
		data, _ := json.Marshal(p)
		return data
	}
	cm := func(data map[string]string, labels map[string]string) []byte {
		out, _ := json.Marshal(corev1.ConfigMap{TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "c", Labels: labels}, Data: data})
		return out
	}
	ns := func(finalizers ...corev1.FinalizerName) []byte {
		out, _ := json.Marshal(corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NamespaceSpec{Finalizers: finalizers}})
		return out
	}
	for _, tc := range []struct {
		name                        string
		def                         string
		obj                         any
		original, modified, current []byte
		want                        string
	}{
		{"container image", "io.k8s.api.core.v1.Pod", &corev1.Pod{}, pod("x", "y"), pod("x2", "y"), pod("x", "y"), "$setElementOrder/containers"},
		{"container removed", "io.k8s.api.core.v1.Pod", &corev1.Pod{}, pod("x", "y"), pod("x"), pod("x", "y"), `"$patch":"delete"`},
		{"configmap data", "io.k8s.api.core.v1.ConfigMap", &corev1.ConfigMap{},
			cm(map[string]string{"a": "1"}, nil), cm(map[string]string{"b": "2"}, map[string]string{"l": "v"}),
			cm(map[string]string{"a": "1", "c": "3"}, nil), `"a":null`},
		{"namespace finalizers", "io.k8s.api.core.v1.Namespace", &corev1.Namespace{}, ns("a/b"), ns("c/d"), ns("a/b"), `"finalizers":["c/d"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := doc.Components.Schemas[tc.def]
			if s == nil {
				t.Fatalf("no %s", tc.def)
			}
			fromOpenAPI, err := strategicpatch.CreateThreeWayMergePatch(tc.original, tc.modified, tc.current,
				strategicpatch.PatchMetaFromOpenAPIV3{Schema: s, SchemaList: doc.Components.Schemas}, false)
			if err != nil {
				t.Fatal(err)
			}
			meta, err := strategicpatch.NewPatchMetaFromStruct(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			fromTypes, err := strategicpatch.CreateThreeWayMergePatch(tc.original, tc.modified, tc.current, meta, false)
			if err != nil {
				t.Fatal(err)
			}
			if string(fromOpenAPI) != string(fromTypes) {
				t.Errorf("patch from OpenAPI %s\n    from Go types %s", fromOpenAPI, fromTypes)
			}
			if !strings.Contains(string(fromOpenAPI), tc.want) {
				t.Errorf("patch %s lacks %s", fromOpenAPI, tc.want)
			}
		})
	}
}

// TestExplain renders fields as `kubectl explain` does, from v3 (the
// default) and from v2 (--output=plaintext-openapiv2).
func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		resource string
		kind     string
		fields   []string
		want     []string
	}{
		{"configmaps", "ConfigMap", nil, []string{"KIND:       ConfigMap", "VERSION:    v1", "ConfigMap holds configuration data", "binaryData", "immutable"}},
		{"configmaps", "ConfigMap", []string{"data"}, []string{"FIELD: data <map[string]string>", "Data contains the configuration data"}},
		{"namespaces", "Namespace", []string{"spec", "finalizers"}, []string{"FIELD: finalizers <[]string>", "Finalizers is an opaque list"}},
		{"namespaces", "Namespace", []string{"metadata", "name"}, []string{"FIELD: name <string>", "Name must be unique within a namespace"}},
		{"secrets", "Secret", []string{"data"}, []string{"FIELD: data <map[string]string>"}},
		{"pods", "Pod", []string{"spec", "containers"}, []string{"FIELD: containers <[]Container>", "image\t<string>", "name\t<string> -required-"}},
		{"pods", "Pod", []string{"spec", "containers", "ports", "containerPort"}, []string{"FIELD: containerPort <integer>", "Number of port to expose"}},
		{"pods", "Pod", []string{"spec", "containers", "resources", "limits"}, []string{"FIELD: limits <map[string]Quantity>"}},
		{"pods", "Pod", []string{"spec", "containers", "livenessProbe", "httpGet", "port"}, []string{"FIELD: port <IntOrString>", "IntOrString is a type"}},
		{"deployments", "Deployment", []string{"spec", "template", "spec", "containers", "image"}, []string{"GROUP:      apps", "FIELD: image <string>"}},
	} {
		t.Run(strings.Join(append([]string{tc.resource}, tc.fields...), "."), func(t *testing.T) {
			reg := bigRegistry(t)
			dc := discoveryFor(t, reg)
			var gvr k8sschema.GroupVersionResource
			for _, r := range reg.Resources() {
				if r.GVR.Resource == tc.resource {
					gvr = r.GVR
				}
			}
			var out bytes.Buffer
			if err := explainv2.PrintModelDescription(tc.fields, &out, dc.OpenAPIV3(), gvr, false, 0, "plaintext"); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("v3 explain lacks %q:\n%s", want, out.String())
				}
			}

			resources, err := kubectlopenapi.NewOpenAPIParser(dc).Parse()
			if err != nil {
				t.Fatal(err)
			}
			gvk := gvr.GroupVersion().WithKind(tc.kind)
			model := resources.LookupResource(gvk)
			if model == nil {
				t.Fatalf("v2: no model for %s", gvk)
			}
			out.Reset()
			if err := explain.PrintModelDescription(tc.fields, &out, model, gvk, false, 0); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "KIND:     "+tc.kind) || !strings.Contains(out.String(), "DESCRIPTION:") {
				t.Errorf("v2 explain:\n%s", out.String())
			}
			if consumes := resources.GetConsumes(gvk, "PATCH"); len(tc.fields) == 0 && !strings.Contains(strings.Join(consumes, ","), "strategic-merge-patch") && tc.kind != "ControllerRevision" {
				t.Errorf("v2: PATCH consumes %v", consumes)
			}
		})
	}
}
