package apitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/store"
)

// mustContain fails unless out matches every pattern.
func mustContain(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(out) {
			t.Fatalf("output does not match %q:\n%s", p, out)
		}
	}
}

func TestKubectlBasics(t *testing.T) {
	ts := startServer(t, store.Config{})

	mustContain(t, ts.kubectl("api-resources"),
		`(?m)^configmaps\s+cm\s+v1\s+true\s+ConfigMap$`,
		`(?m)^namespaces\s+ns\s+v1\s+false\s+Namespace$`,
		`(?m)^secrets\s+v1\s+true\s+Secret$`)
	mustContain(t, ts.kubectl("get", "namespaces"),
		`(?m)^NAME\s+STATUS\s+AGE$`, `(?m)^default\s+Active\s+\d+s$`, `(?m)^kube-system\s+Active`,
		`(?m)^kube-public\s+Active`, `(?m)^kube-node-lease\s+Active`)

	mustContain(t, ts.kubectl("create", "configmap", "web", "--from-literal=color=blue", "--from-literal=size=L"),
		`^configmap/web created\n$`)
	mustContain(t, ts.kubectl("get", "cm"), `(?m)^NAME\s+DATA\s+AGE$`, `(?m)^web\s+2\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "wide", "--show-labels"), `(?m)^NAME\s+DATA\s+AGE\s+LABELS$`, `(?m)^web\s+2\s+\S+\s+<none>$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "jsonpath={.data.color}"), `^blue$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "custom-columns=NAME:.metadata.name,COLOR:.data.color"),
		`(?m)^NAME\s+COLOR$`, `(?m)^web\s+blue$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "yaml"),
		`(?m)^kind: ConfigMap$`, `(?m)^  color: blue$`, `(?m)^  resourceVersion: "\d+"$`, `(?m)^  uid: [0-9a-f-]{36}$`)
	var cm struct {
		APIVersion, Kind string
		Metadata         struct{ Name, Namespace, ResourceVersion, UID, CreationTimestamp string }
	}
	if err := json.Unmarshal([]byte(ts.kubectl("get", "cm", "web", "-o", "json")), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Namespace != "default" || cm.Metadata.CreationTimestamp == "" {
		t.Fatalf("get -o json: %+v", cm)
	}

	// Labels and annotations, with and without --overwrite.
	mustContain(t, ts.kubectl("label", "cm", "web", "tier=front"), `^configmap/web labeled\n$`)
	mustContain(t, ts.kubectlFails("label", "cm", "web", "tier=back"), `'tier' already has a value \(front\), and --overwrite is false`)
	ts.kubectl("label", "cm", "web", "tier=back", "--overwrite")
	ts.kubectl("annotate", "cm", "web", "owner=alice")
	mustContain(t, ts.kubectlFails("annotate", "cm", "web", "owner=bob"), `--overwrite is false`)
	mustContain(t, ts.kubectl("get", "cm", "-l", "tier=back", "--show-labels"), `(?m)^web\s+2\s+\S+\s+tier=back$`)
	mustContain(t, ts.kubectl("get", "cm", "-l", "tier in (front,back)", "-o", "name"), `^configmap/web\n$`)
	mustContain(t, ts.kubectl("get", "cm", "-l", "tier notin (back)", "-o", "name"), `^configmap/kube-root-ca.crt\n$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "jsonpath={.metadata.annotations.owner}"), `^alice$`)
	ts.kubectl("label", "cm", "web", "tier-")
	mustContain(t, ts.kubectl("get", "cm", "web", "--show-labels"), `(?m)^web\s+2\s+\S+\s+<none>$`)

	// The three patch types.
	mustContain(t, ts.kubectl("patch", "cm", "web", "--type=json", "-p", `[{"op":"replace","path":"/data/color","value":"red"}]`), `^configmap/web patched\n$`)
	ts.kubectl("patch", "cm", "web", "--type=merge", "-p", `{"data":{"shape":"round"}}`)
	ts.kubectl("patch", "cm", "web", "-p", `{"data":{"size":null}}`) // strategic merge: null deletes
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "jsonpath={.data}"), `^\{"color":"red","shape":"round"\}$`)
	mustContain(t, ts.kubectl("patch", "cm", "web", "--type=merge", "-p", `{"data":{"shape":"round"}}`), `^configmap/web patched \(no change\)\n$`)
	mustContain(t, ts.kubectlFails("patch", "cm", "web", "--type=json", "-p", `[{"op":"test","path":"/data/color","value":"green"}]`), `Invalid`)
	mustContain(t, ts.kubectlFails("patch", "cm", "nope", "-p", `{"data":{}}`), `configmaps "nope" not found`)

	// Server-side dry run stores nothing.
	mustContain(t, ts.kubectl("create", "configmap", "ghost", "--from-literal=a=b", "--dry-run=server"), `^configmap/ghost created \(server dry run\)\n$`)
	mustContain(t, ts.kubectlFails("get", "cm", "ghost"), `configmaps "ghost" not found`)

	// Errors as upstream words them.
	mustContain(t, ts.kubectlFails("get", "cm", "nope"), `Error from server \(NotFound\): configmaps "nope" not found`)
	mustContain(t, ts.kubectlFails("create", "configmap", "web"), `failed to create configmap: configmaps "web" already exists`)
	mustContain(t, ts.kubectlFails("create", "configmap", "x", "-n", "nowhere"), `namespaces "nowhere" not found`)
	mustContain(t, ts.kubectlFails("create", "configmap", "Bad_Name"), `Invalid value: "Bad_Name"`)

	// Delete, and delete --all.
	mustContain(t, ts.kubectl("delete", "cm", "web"), `configmap "web" deleted`)
	for _, name := range []string{"a", "b", "c"} {
		ts.kubectl("create", "configmap", name)
	}
	mustContain(t, ts.kubectl("delete", "cm", "--all"), `configmap "a" deleted`, `configmap "c" deleted`)
	mustContain(t, ts.kubectl("get", "cm"), `^$`)
}

func TestKubectlSecrets(t *testing.T) {
	ts := startServer(t, store.Config{})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "password.txt"), []byte("s3cret"), 0o600)
	mustContain(t, ts.kubectl("create", "secret", "generic", "db", "--from-file="+filepath.Join(dir, "password.txt"), "--from-literal=user=admin"),
		`^secret/db created\n$`)
	mustContain(t, ts.kubectl("get", "secret", "db"), `(?m)^NAME\s+TYPE\s+DATA\s+AGE$`, `(?m)^db\s+Opaque\s+2\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "secret", "db", "-o", "jsonpath={.data.password\\.txt}"), `^czNjcmV0$`)

	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(pki.Request{CommonName: "web", DNSNames: []string{"web.example"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "tls.crt"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "tls.key"), keyPEM, 0o600)
	ts.kubectl("create", "secret", "tls", "web-tls", "--cert="+filepath.Join(dir, "tls.crt"), "--key="+filepath.Join(dir, "tls.key"))
	mustContain(t, ts.kubectl("get", "secrets", "--field-selector", "type=kubernetes.io/tls"), `(?m)^web-tls\s+kubernetes.io/tls\s+2\s+`)
	mustContain(t, ts.kubectlFails("get", "secrets", "--field-selector", "spec.nope=x"), `field label not supported: spec.nope`)
	// A TLS secret without its key is refused by validation.
	mustContain(t, ts.kubectlFails("create", "-f", "-"), `error`) // no input: kubectl's own error
	_, errOut, err := ts.kubectlAs(ts.kubeconfig, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"half"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}}`,
		"create", "-f", "-", "--validate=false")
	if err == nil || !strings.Contains(errOut, `data[tls.key]: Required value`) {
		t.Fatalf("half TLS secret: %v %s", err, errOut)
	}
}

func TestKubectlPaging(t *testing.T) {
	ts := startServer(t, store.Config{})
	for i := range 7 {
		ts.kubectl("create", "configmap", "cm-"+string(rune('a'+i)))
	}
	out := ts.kubectl("get", "cm", "--chunk-size=2", "-o", "name")
	if got := strings.Count(out, "configmap/"); got != 8 { // and kube-root-ca.crt
		t.Fatalf("paged list has %d configmaps:\n%s", got, out)
	}
	// The raw pages: limit, continue, and the same snapshot throughout.
	raw := ts.kubectl("get", "--raw", "/api/v1/namespaces/default/configmaps?limit=3")
	var page struct {
		Metadata struct{ Continue, ResourceVersion string }
		Items    []struct{ Metadata struct{ Name string } }
	}
	if err := json.Unmarshal([]byte(raw), &page); err != nil || len(page.Items) != 3 || page.Metadata.Continue == "" {
		t.Fatalf("first page: %v %s", err, raw)
	}
}

func TestKubectlDescribe(t *testing.T) {
	ts := startServer(t, store.Config{})
	ts.kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
	mustContain(t, ts.kubectl("describe", "configmap", "settings"),
		`(?m)^Name:\s+settings$`, `(?m)^Namespace:\s+default$`, `(?m)^mode:$`, `(?m)^fast$`)
	ts.kubectl("create", "deployment", "web", "--image=nginx:1.27", "--replicas=2")
	mustContain(t, ts.kubectl("describe", "deployment", "web"),
		`(?m)^Replicas:\s+2 desired`, `(?m)^StrategyType:\s+RollingUpdate$`, `RollingUpdateStrategy:\s+25% max unavailable, 25% max surge`)
	mustContain(t, ts.kubectl("describe", "namespace", "default"), `(?m)^Status:\s+Active$`)
}
