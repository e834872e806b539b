package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// bootstrapCluster is the bootstrap policy plus, in namespace "app", the
// users admin-user, edit-user and view-user bound to admin, edit and view.
func bootstrapCluster() *sliceLister {
	roles, bindings := BootstrapPolicy()
	l := &sliceLister{clusterRoles: roles, clusterRoleBindings: bindings}
	for _, role := range []string{"admin", "edit", "view"} {
		l.roleBindings = append(l.roleBindings, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: role + "-user"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{user(role + "-user")},
		})
	}
	return l
}

func TestBootstrapPolicyAuthorizes(t *testing.T) {
	a := New(bootstrapCluster())
	authed := []string{GroupAuthenticated}
	anonymous := []string{GroupUnauthenticated}
	url := func(user string, groups []string, verb, path string) Attributes {
		return Attributes{User: user, Groups: groups, Verb: verb, Path: path}
	}
	gcUser, gcGroups := ServiceAccountUser("kube-system", "generic-garbage-collector")
	for _, tc := range []struct {
		name    string
		attr    Attributes
		allowed bool
	}{
		{"cluster-admin: anything", res("root", "deletecollection", "example.com", "widgets", "", "", "", GroupMasters), true},
		{"cluster-admin: any subresource", res("root", "create", "", "pods", "exec", "x", "p", GroupMasters), true},
		{"cluster-admin: any URL", url("root", []string{GroupMasters}, "post", "/anything/at/all"), true},

		{"view: list pods", res("view-user", "list", "", "pods", "", "app", "", GroupAuthenticated), true},
		{"view: pod logs", res("view-user", "get", "", "pods", "log", "app", "web", GroupAuthenticated), true},
		{"view: deployments", res("view-user", "watch", "apps", "deployments", "", "app", "", GroupAuthenticated), true},
		{"view: ingresses and network policies", res("view-user", "get", "networking.k8s.io", "networkpolicies", "", "app", "np", GroupAuthenticated), true},
		{"view: not secrets", res("view-user", "get", "", "secrets", "", "app", "db", GroupAuthenticated), false},
		{"view: not writes", res("view-user", "create", "", "configmaps", "", "app", "", GroupAuthenticated), false},
		{"view: not exec", res("view-user", "create", "", "pods", "exec", "app", "web", GroupAuthenticated), false},
		{"view: only its namespace", res("view-user", "list", "", "pods", "", "other", "", GroupAuthenticated), false},

		{"edit: create deployments", res("edit-user", "create", "apps", "deployments", "", "app", "", GroupAuthenticated), true},
		{"edit: scale deployments", res("edit-user", "update", "apps", "deployments", "scale", "app", "web", GroupAuthenticated), true},
		{"edit: read secrets", res("edit-user", "get", "", "secrets", "", "app", "db", GroupAuthenticated), true},
		{"edit: exec", res("edit-user", "create", "", "pods", "exec", "app", "web", GroupAuthenticated), true},
		{"edit: not roles", res("edit-user", "create", "rbac.authorization.k8s.io", "roles", "", "app", "", GroupAuthenticated), false},
		{"edit: not role bindings", res("edit-user", "create", "rbac.authorization.k8s.io", "rolebindings", "", "app", "", GroupAuthenticated), false},
		{"edit: not resource quotas", res("edit-user", "update", "", "resourcequotas", "", "app", "q", GroupAuthenticated), false},

		{"admin: roles", res("admin-user", "create", "rbac.authorization.k8s.io", "roles", "", "app", "", GroupAuthenticated), true},
		{"admin: everything edit can", res("admin-user", "delete", "apps", "deployments", "", "app", "web", GroupAuthenticated), true},
		{"admin: not cluster roles", res("admin-user", "create", "rbac.authorization.k8s.io", "clusterroles", "", "", "", GroupAuthenticated), false},

		{"public-info-viewer: /healthz unauthenticated", url("system:anonymous", anonymous, "get", "/healthz"), true},
		{"public-info-viewer: /version unauthenticated", url("system:anonymous", anonymous, "get", "/version"), true},
		{"discovery: not for unauthenticated", url("system:anonymous", anonymous, "get", "/apis"), false},
		{"discovery: authenticated", url("alice", authed, "get", "/apis/apps/v1"), true},
		{"basic-user: self subject access review", res("alice", "create", "authorization.k8s.io", "selfsubjectaccessreviews", "", "", "", GroupAuthenticated), true},
		{"authenticated: no pods", res("alice", "list", "", "pods", "", "default", "", GroupAuthenticated), false},

		{"scheduler: binds pods", res(UserKubeScheduler, "create", "", "pods", "binding", "app", "web"), true},
		{"scheduler: no secrets", res(UserKubeScheduler, "get", "", "secrets", "", "app", "db"), false},
		{"controller manager: lists anything", res(UserKubeControllerManager, "list", "apps", "deployments", "", "", ""), true},
		{"node: updates node status", res("system:node:n1", "patch", "", "nodes", "status", "", "n1", GroupNodes), true},
		{"node: reads secrets", res("system:node:n1", "get", "", "secrets", "", "app", "db", GroupNodes), true},
		{"proxier: watches endpoint slices", res(UserKubeProxy, "watch", "discovery.k8s.io", "endpointslices", "", "", ""), true},
		{"kube-dns: lists services", res("system:serviceaccount:kube-system:kube-dns", "list", "", "services", "", "", ""), true},
		{"garbage collector: deletes anything", Attributes{User: gcUser, Groups: gcGroups, Verb: "delete",
			APIGroup: "apps", Resource: "replicasets", Namespace: "app", Name: "web", ResourceRequest: true}, true},
		{"deployment controller: manages replica sets", res("system:serviceaccount:kube-system:deployment-controller",
			"create", "apps", "replicasets", "", "app", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, reason, err := a.Authorize(tc.attr)
			if err != nil || allowed != tc.allowed {
				t.Errorf("Authorize = %v %q %v, want %v", allowed, reason, err, tc.allowed)
			}
		})
	}
}

func TestBootstrapPolicyShape(t *testing.T) {
	roles, bindings := BootstrapPolicy()
	byName := map[string]*rbacv1.ClusterRole{}
	for _, r := range roles {
		if byName[r.Name] != nil {
			t.Errorf("cluster role %s twice", r.Name)
		}
		byName[r.Name] = r
		if r.Labels[bootstrapLabel] != bootstrapLabelValue || r.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" {
			t.Errorf("cluster role %s lacks the bootstrap label or annotation: %v %v", r.Name, r.Labels, r.Annotations)
		}
		if r.AggregationRule == nil && len(r.Rules) == 0 {
			t.Errorf("cluster role %s has no rules", r.Name)
		}
	}
	names := map[string]bool{}
	for _, b := range bindings {
		if names[b.Name] {
			t.Errorf("binding %s twice", b.Name)
		}
		names[b.Name] = true
		if byName[b.RoleRef.Name] == nil || b.RoleRef.Kind != "ClusterRole" || b.RoleRef.APIGroup != rbacv1.GroupName {
			t.Errorf("binding %s refers to %v", b.Name, b.RoleRef)
		}
		if len(b.Subjects) == 0 || b.Labels[bootstrapLabel] != bootstrapLabelValue {
			t.Errorf("binding %s: subjects %v labels %v", b.Name, b.Subjects, b.Labels)
		}
	}
	for _, want := range []string{"admin", "edit", "view"} {
		if byName[want] == nil {
			t.Errorf("missing cluster role %s", want)
		}
	}
	for _, want := range []string{"cluster-admin", "system:discovery", "system:basic-user",
		"system:public-info-viewer", "system:kube-scheduler", "system:kube-controller-manager", "system:node",
		"system:node-proxier", "system:kube-dns", "system:controller:deployment-controller"} {
		if byName[want] == nil || !names[want] {
			t.Errorf("missing cluster role or binding %s", want)
		}
	}

	// Aggregation: each aggregated role holds what it aggregates, with
	// upstream's labels wiring view into edit into admin.
	for _, tc := range []struct{ role, label string }{
		{"view", aggregateToView}, {"edit", aggregateToEdit}, {"admin", aggregateToAdmin},
	} {
		t.Run("aggregated "+tc.role, func(t *testing.T) {
			r := byName[tc.role]
			if r.AggregationRule == nil || r.AggregationRule.ClusterRoleSelectors[0].MatchLabels[tc.label] != "true" {
				t.Fatalf("aggregation rule %v", r.AggregationRule)
			}
			for _, src := range roles {
				if src.Name != r.Name && src.Labels[tc.label] == "true" {
					if covered, missing := validation.Covers(r.Rules, src.Rules); !covered {
						t.Errorf("%s does not hold %s's %v", r.Name, src.Name, missing)
					}
				}
			}
		})
	}
	if byName["edit"].Labels[aggregateToAdmin] != "true" || byName["view"].Labels[aggregateToEdit] != "true" {
		t.Errorf("edit labels %v, view labels %v", byName["edit"].Labels, byName["view"].Labels)
	}
}
