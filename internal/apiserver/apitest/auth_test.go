package apitest

import (
	"strings"
	"testing"

	"mini.dev/mini/internal/store"
)

// TestRBAC: a user with no binding is refused; a RoleBinding to the
// upstream "view" role lets them read but not read secrets or write, and
// kubectl auth can-i / whoami answer as on any cluster.
func TestRBAC(t *testing.T) {
	ts := startServer(t, store.Config{})
	alice := ts.writeKubeconfig("alice", "alice", "dev")
	asAlice := func(args ...string) (string, string, error) { return ts.kubectlAs(alice, "", args...) }

	ts.kubectl("create", "configmap", "shared", "--from-literal=a=b")
	ts.kubectl("create", "secret", "generic", "hidden", "--from-literal=a=b")
	if _, errOut, err := asAlice("get", "configmaps"); err == nil || !strings.Contains(errOut,
		`configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "default"`) {
		t.Fatalf("alice without rights: %v %s", err, errOut)
	}
	out, _, _ := asAlice("auth", "can-i", "list", "configmaps")
	mustContain(t, out, `^no\n$`)

	mustContain(t, ts.kubectl("get", "clusterroles", "view", "admin", "edit", "cluster-admin", "-o", "name"),
		`clusterrole.rbac.authorization.k8s.io/view`, `clusterrole.rbac.authorization.k8s.io/cluster-admin`)
	ts.kubectl("create", "rolebinding", "dev-view", "--clusterrole=view", "--group=dev")

	if out, errOut, err := asAlice("get", "configmaps", "-o", "name"); err != nil || !strings.Contains(out, "configmap/shared") {
		t.Fatalf("alice with view: %v %s %s", err, out, errOut)
	}
	if _, errOut, err := asAlice("get", "secrets"); err == nil || !strings.Contains(errOut, `cannot list resource "secrets"`) {
		t.Fatalf("view must not read secrets: %v %s", err, errOut)
	}
	if _, errOut, err := asAlice("create", "configmap", "mine"); err == nil || !strings.Contains(errOut, `cannot create resource "configmaps"`) {
		t.Fatalf("view must not write: %v %s", err, errOut)
	}
	if _, errOut, err := asAlice("get", "configmaps", "-n", "kube-system"); err == nil || !strings.Contains(errOut, `in the namespace "kube-system"`) {
		t.Fatalf("a RoleBinding grants only its namespace: %v %s", err, errOut)
	}
	out, _, _ = asAlice("auth", "can-i", "list", "configmaps")
	mustContain(t, out, `^yes\n$`)
	out, _, _ = asAlice("auth", "can-i", "delete", "configmaps")
	mustContain(t, out, `^no\n$`)
	out, _, err := asAlice("auth", "can-i", "--list")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, `(?m)^configmaps\s+\[\]\s+\[\]\s+\[get list watch\]$`)
	out, _, err = asAlice("auth", "whoami")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, out, `(?m)^Username\s+alice$`, `(?m)^Groups\s+\[dev system:authenticated\]$`)
	// The admin may do anything, and can-i says so.
	mustContain(t, ts.kubectl("auth", "can-i", "*", "*"), `^yes\n$`)
}

// TestRBACEscalation: a user who may write roles cannot grant more than
// they hold, as upstream refuses it.
func TestRBACEscalation(t *testing.T) {
	ts := startServer(t, store.Config{})
	bob := ts.writeKubeconfig("bob", "bob")
	ts.kubectl("create", "role", "role-writer", "--verb=create,get,list", "--resource=roles,rolebindings")
	ts.kubectl("create", "rolebinding", "bob-writes-roles", "--role=role-writer", "--user=bob")
	_, errOut, err := ts.kubectlAs(bob, "", "create", "role", "secret-reader", "--verb=get", "--resource=secrets")
	if err == nil || !strings.Contains(errOut, `is attempting to grant RBAC permissions not currently held`) {
		t.Fatalf("escalation allowed: %v %s", err, errOut)
	}
	// Granting what bob holds is fine.
	if _, errOut, err := ts.kubectlAs(bob, "", "create", "role", "role-reader", "--verb=get", "--resource=roles"); err != nil {
		t.Fatalf("non-escalating role refused: %s", errOut)
	}
}
