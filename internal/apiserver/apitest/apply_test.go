package apitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mini.dev/mini/internal/store"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const webConfig = `apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  labels:
    app: web
data:
  color: blue
  size: L
`

func TestKubectlApply(t *testing.T) {
	ts := startServer(t, store.Config{})
	dir := t.TempDir()

	// Client-side apply twice, with changes: a removed key goes away, as the
	// last-applied annotation drives it.
	path := writeFile(t, dir, "web.yaml", webConfig)
	mustContain(t, ts.kubectl("apply", "-f", path), `^configmap/web created\n$`)
	mustContain(t, ts.kubectl("apply", "-f", path), `^configmap/web unchanged\n$`)
	writeFile(t, dir, "web.yaml", strings.Replace(strings.Replace(webConfig, "blue", "green", 1), "  size: L\n", "", 1))
	mustContain(t, ts.kubectl("apply", "-f", path), `^configmap/web configured\n$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "jsonpath={.data}"), `^\{"color":"green"\}$`)
	mustContain(t, ts.kubectl("get", "cm", "web", "-o", "yaml", "--show-managed-fields"),
		`kubectl.kubernetes.io/last-applied-configuration`, `manager: kubectl-client-side-apply`)
	mustContain(t, ts.kubectl("diff", "-f", path), `^$`)

	// An unknown field is refused with --validate=strict (the default), by
	// the server.
	bad := writeFile(t, dir, "bad.yaml", webConfig+"spec:\n  replicas: 3\n")
	mustContain(t, ts.kubectlFails("apply", "-f", bad, "--validate=strict"), `unknown field "spec"`)

	// Server-side apply: a second manager taking a field the first owns
	// conflicts, and wins with --force-conflicts.
	ssa := writeFile(t, dir, "ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  owner: alice\n")
	mustContain(t, ts.kubectl("apply", "--server-side", "--field-manager=alice", "-f", ssa), `^configmap/shared serverside-applied\n$`)
	writeFile(t, dir, "ssa.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  owner: bob\n")
	mustContain(t, ts.kubectlFails("apply", "--server-side", "--field-manager=bob", "-f", ssa),
		`Apply failed with 1 conflict: conflict with "alice": \.data\.owner`)
	mustContain(t, ts.kubectl("apply", "--server-side", "--field-manager=bob", "--force-conflicts", "-f", ssa), `serverside-applied`)
	mustContain(t, ts.kubectl("get", "cm", "shared", "-o", "jsonpath={.data.owner} {.metadata.managedFields[*].manager}"), `^bob bob$`)
}

func TestKubectlEditAndExplain(t *testing.T) {
	ts := startServer(t, store.Config{})
	ts.kubectl("create", "configmap", "ed", "--from-literal=mode=slow")
	// EDITOR is a script that changes the value in the file kubectl opens.
	editor := writeFile(t, t.TempDir(), "editor.sh", "#!/bin/sh\nsed -i 's/mode: slow/mode: fast/' \"$1\"\n")
	os.Chmod(editor, 0o755)
	t.Setenv("EDITOR", editor)
	t.Setenv("KUBE_EDITOR", editor)
	mustContain(t, ts.kubectl("edit", "cm", "ed"), `^configmap/ed edited\n$`)
	mustContain(t, ts.kubectl("get", "cm", "ed", "-o", "jsonpath={.data.mode}"), `^fast$`)

	mustContain(t, ts.kubectl("explain", "configmap.data"), `KIND:\s+ConfigMap`, `FIELD:\s+data`, `(?s)DESCRIPTION:.*UTF-8`)
	mustContain(t, ts.kubectl("explain", "namespaces.spec"), `finalizers`)
}
