package rbac

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testPolicy is the cluster every authorizer test runs against.
//
//	alice    pod reader in team-a (Role), pod-log and */scale in team-a
//	bob      cluster-wide secret reader of one secret (ClusterRoleBinding)
//	devs     group: edit-like ClusterRole granted only in team-b (RoleBinding)
//	ci       service account team-a/ci: deployments in team-a, via a
//	         subject without namespace
//	monitors group: /metrics and /healthz/* (cluster role, non-resource)
//	ghost    bound to a Role that does not exist
func testPolicy() *sliceLister {
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	ref := func(kind, name string) rbacv1.RoleRef {
		return rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: name}
	}
	return &sliceLister{
		clusterRoles: []*rbacv1.ClusterRole{
			{ObjectMeta: meta("", "one-secret"), Rules: []rbacv1.PolicyRule{
				rule("get").groups("").resources("secrets").names("db").r()}},
			{ObjectMeta: meta("", "deployer"), Rules: []rbacv1.PolicyRule{
				rule("*").groups("apps").resources("deployments", "deployments/scale").r(),
				rule(read...).groups("").resources("pods").r()}},
			{ObjectMeta: meta("", "metrics"), Rules: []rbacv1.PolicyRule{
				rule("get").urls("/metrics", "/healthz/*").r()}},
		},
		clusterRoleBindings: []*rbacv1.ClusterRoleBinding{
			{ObjectMeta: meta("", "bob-secret"), RoleRef: ref("ClusterRole", "one-secret"),
				Subjects: []rbacv1.Subject{user("bob")}},
			{ObjectMeta: meta("", "monitors"), RoleRef: ref("ClusterRole", "metrics"),
				Subjects: groups("monitors")},
			// A cluster binding to a service account without a namespace
			// matches nobody.
			{ObjectMeta: meta("", "nobody"), RoleRef: ref("ClusterRole", "deployer"),
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ci"}}},
		},
		roles: []*rbacv1.Role{
			{ObjectMeta: meta("team-a", "pod-reader"), Rules: []rbacv1.PolicyRule{
				rule(read...).groups("").resources("pods", "pods/log").r(),
				rule("update").groups("*").resources("*/scale").r()}},
		},
		roleBindings: []*rbacv1.RoleBinding{
			{ObjectMeta: meta("team-a", "alice-pods"), RoleRef: ref("Role", "pod-reader"),
				Subjects: []rbacv1.Subject{user("alice")}},
			{ObjectMeta: meta("team-b", "devs-deploy"), RoleRef: ref("ClusterRole", "deployer"),
				Subjects: groups("devs")},
			{ObjectMeta: meta("team-a", "ci-deploy"), RoleRef: ref("ClusterRole", "deployer"),
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "ci"}}},
			{ObjectMeta: meta("team-a", "ghost"), RoleRef: ref("Role", "missing"),
				Subjects: []rbacv1.Subject{user("ghost")}},
		},
	}
}

// res is a resource request.
func res(user, verb, group, resource, sub, ns, name string, groups ...string) Attributes {
	return Attributes{User: user, Groups: groups, Verb: verb, APIGroup: group, Resource: resource,
		Subresource: sub, Namespace: ns, Name: name, ResourceRequest: true}
}

func TestAuthorize(t *testing.T) {
	saUser, saGroups := ServiceAccountUser("team-a", "ci")
	a := New(testPolicy())
	for _, tc := range []struct {
		name    string
		attr    Attributes
		allowed bool
		reason  string // substring of the reason
	}{
		{"role grants in its namespace", res("alice", "list", "", "pods", "", "team-a", ""), true,
			`RBAC: allowed by RoleBinding "alice-pods/team-a" of Role "pod-reader" to User "alice"`},
		{"role does not grant elsewhere", res("alice", "list", "", "pods", "", "team-b", ""), false, ""},
		{"role does not grant cluster-wide", res("alice", "list", "", "pods", "", "", ""), false, ""},
		{"other verb", res("alice", "delete", "", "pods", "", "team-a", "web"), false, ""},
		{"subresource named", res("alice", "get", "", "pods", "log", "team-a", "web"), true, ""},
		{"subresource not named", res("alice", "create", "", "pods", "exec", "team-a", "web"), false, ""},
		{"resource does not grant its subresources", res("alice", "get", "", "pods", "status", "team-a", "web"), false, ""},
		{"*/scale matches any scale", res("alice", "update", "apps", "deployments", "scale", "team-a", "web"), true, ""},
		{"*/scale is not the resource", res("alice", "update", "apps", "deployments", "", "team-a", "web"), false, ""},
		{"resource name matches", res("bob", "get", "", "secrets", "", "team-a", "db"), true,
			`ClusterRoleBinding "bob-secret" of ClusterRole "one-secret" to User "bob"`},
		{"resource name differs", res("bob", "get", "", "secrets", "", "team-a", "other"), false, ""},
		{"resource names never match list", res("bob", "list", "", "secrets", "", "team-a", ""), false, ""},
		{"cluster role via role binding, in its namespace", res("carol", "create", "apps", "deployments", "", "team-b", "", "devs"), true,
			`RoleBinding "devs-deploy/team-b" of ClusterRole "deployer" to Group "devs"`},
		{"cluster role via role binding, not elsewhere", res("carol", "create", "apps", "deployments", "", "team-a", "", "devs"), false, ""},
		{"verb *", res("carol", "deletecollection", "apps", "deployments", "", "team-b", "", "devs"), true, ""},
		{"wrong group", res("carol", "create", "extensions", "deployments", "", "team-b", "", "devs"), false, ""},
		{"service account subject defaults to binding namespace", Attributes{User: saUser, Groups: saGroups, Verb: "patch",
			APIGroup: "apps", Resource: "deployments", Namespace: "team-a", Name: "web", ResourceRequest: true}, true,
			`to ServiceAccount "ci/team-a"`},
		{"other namespace's service account", res("system:serviceaccount:team-b:ci", "patch", "apps", "deployments", "", "team-a", "web"), false, ""},
		{"service account name prefix only", res("system:serviceaccount:team-a:ci-2", "patch", "apps", "deployments", "", "team-a", "web"), false, ""},
		{"non-resource exact", Attributes{User: "m", Groups: []string{"monitors"}, Verb: "get", Path: "/metrics"}, true, ""},
		{"non-resource prefix", Attributes{User: "m", Groups: []string{"monitors"}, Verb: "get", Path: "/healthz/etcd"}, true, ""},
		{"non-resource prefix needs the slash", Attributes{User: "m", Groups: []string{"monitors"}, Verb: "get", Path: "/healthz"}, false, ""},
		{"non-resource verb", Attributes{User: "m", Groups: []string{"monitors"}, Verb: "post", Path: "/metrics"}, false, ""},
		{"missing role is the reason", res("ghost", "get", "", "pods", "", "team-a", ""), false,
			`RBAC: role.rbac.authorization.k8s.io "missing" not found`},
		{"nobody", res("eve", "get", "", "pods", "", "team-a", ""), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, reason, err := a.Authorize(tc.attr)
			if err != nil {
				t.Fatal(err)
			}
			if allowed != tc.allowed || !strings.Contains(reason, tc.reason) || (!allowed && tc.reason == "" && reason != "") {
				t.Errorf("Authorize = %v %q, want %v %q", allowed, reason, tc.allowed, tc.reason)
			}
		})
	}
}

func TestRulesFor(t *testing.T) {
	a := New(testPolicy())
	for _, tc := range []struct {
		name      string
		user      string
		groups    []string
		namespace string
		want      int    // number of rules
		err       string // substring of the error
	}{
		{"role binding rules in namespace", "alice", nil, "team-a", 2, ""},
		{"no role bindings cluster-wide", "alice", nil, "", 0, ""},
		{"cluster binding rules everywhere", "bob", nil, "team-b", 1, ""},
		{"group through role binding", "carol", []string{"devs", "monitors"}, "team-b", 3, ""},
		{"unresolved binding is reported", "ghost", nil, "team-a", 0, `role.rbac.authorization.k8s.io "missing" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := a.RulesFor(tc.user, tc.groups, tc.namespace)
			if len(rules) != tc.want {
				t.Errorf("%d rules, want %d: %v", len(rules), tc.want, rules)
			}
			if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestConfirmNoEscalation(t *testing.T) {
	a := New(testPolicy())
	for _, tc := range []struct {
		name  string
		user  string
		ns    string
		rules []rbacv1.PolicyRule
		want  string // substring of the error; "" for none
	}{
		{"subset of own rules", "alice", "team-a", []rbacv1.PolicyRule{rule("get").groups("").resources("pods").r()}, ""},
		{"more verbs than held", "alice", "team-a", []rbacv1.PolicyRule{rule("get", "create", "delete").groups("").resources("pods").r()},
			"user \"alice\" (groups=[]) is attempting to grant RBAC permissions not currently held:\n" +
				`{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}`},
		{"not in that namespace", "alice", "team-b", []rbacv1.PolicyRule{rule("get").groups("").resources("pods").r()},
			`{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`},
		{"named secret only", "bob", "x", []rbacv1.PolicyRule{rule("get").groups("").resources("secrets").r()},
			`{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.ConfirmNoEscalation(tc.user, nil, tc.ns, tc.rules)
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
