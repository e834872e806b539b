package deploy

import (
	"strings"
	"testing"

	"mini.dev/mini/internal/proxy"
	"mini.dev/mini/manifests"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"CLUSTER_DNS": "10.43.0.10", "CLUSTER_DOMAIN": "cluster.local"}
	tests := []struct {
		name, in, want, err string
	}{
		{name: "none", in: "a: b", want: "a: b"},
		{name: "one", in: "ip: %{CLUSTER_DNS}%", want: "ip: 10.43.0.10"},
		{name: "twice", in: "%{CLUSTER_DOMAIN}% %{CLUSTER_DNS}% %{CLUSTER_DNS}%", want: "cluster.local 10.43.0.10 10.43.0.10"},
		{name: "unknown", in: "x: %{CLUSTER_DSN}%", err: "unknown template variable %{CLUSTER_DSN}%"},
		{name: "not a variable", in: "x: %{a b}% 100%", want: "x: %{a b}% 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := expand([]byte(tt.in), vars)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "Kind ns/name" of each object, in order
		err  string
	}{
		{name: "empty", in: "", want: nil},
		{name: "comments only", in: "# nothing\n---\n# still nothing\n", want: nil},
		{name: "one", in: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", want: []string{"ConfigMap a"}},
		{name: "multi-document", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
			want: []string{"ConfigMap x/a", "Namespace x"}},
		{name: "json", in: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}`, want: []string{"Secret s"}},
		{name: "list", in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d, namespace: ns1}\n",
			want: []string{"ConfigMap a", "Deployment ns1/d"}},
		{name: "typed list", in: "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: a}\n", want: []string{"ConfigMap a"}},
		{name: "bad yaml", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\nkind: [\n", err: "document 2"},
		{name: "no kind", in: "apiVersion: v1\nmetadata: {name: a}\n", err: "document 1: kind is missing"},
		{name: "no apiVersion", in: "kind: ConfigMap\nmetadata: {name: a}\n", err: "apiVersion is missing"},
		{name: "no name", in: "apiVersion: v1\nkind: ConfigMap\n", err: "ConfigMap: metadata.name is missing"},
		{name: "generateName", in: "apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n", err: "generateName cannot be applied"},
		{name: "scalar", in: "hello\n", err: "document 1: not an object"},
		{name: "bad list item", in: "apiVersion: v1\nkind: List\nitems:\n- kind: ConfigMap\n", err: "List item 0: apiVersion is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := parse([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, refOf(o).String())
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestApplyOrder(t *testing.T) {
	objs, err := parse([]byte(`apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: ns1}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crd}
---
apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: v1
kind: Secret
metadata: {name: b, namespace: ns1}
`))
	if err != nil {
		t.Fatal(err)
	}
	applyOrder(objs)
	var got []string
	for _, o := range objs {
		got = append(got, o.GetName())
	}
	if strings.Join(got, ",") != "ns1,crd,a,b" {
		t.Fatalf("order %v", got)
	}
}

// TestBuiltinKubeDNS checks the built-in kube-dns Service is what the
// proxy and DNS expect.
func TestBuiltinKubeDNS(t *testing.T) {
	d := &Deployer{cfg: Config{Builtin: manifests.FS(), Vars: map[string]string{"CLUSTER_DNS": "10.43.0.10", "CLUSTER_DOMAIN": "cluster.local"}}}
	b, err := d.read(source{key: builtinPrefix + "kube-dns.yaml", builtin: true})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parse(b)
	if err != nil || len(objs) != 1 {
		t.Fatalf("%d objects, %v", len(objs), err)
	}
	svc := objs[0]
	if svc.GetName() != "kube-dns" || svc.GetNamespace() != "kube-system" || svc.GetKind() != "Service" {
		t.Fatalf("got %s", refOf(svc))
	}
	if svc.GetLabels()[proxy.NodeLocalLabel] != "true" || svc.GetLabels()["k8s-app"] != "kube-dns" {
		t.Errorf("labels %v", svc.GetLabels())
	}
	if ip := svc.Object["spec"].(map[string]any)["clusterIP"]; ip != "10.43.0.10" {
		t.Errorf("clusterIP %v", ip)
	}
}
