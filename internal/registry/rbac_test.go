package registry

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRoleValidation(t *testing.T) {
	role := func(rules ...rbacv1.PolicyRule) *rbacv1.Role {
		return &rbacv1.Role{ObjectMeta: testMeta("pod-reader", "default"), Rules: rules}
	}
	runValidation(t, Roles(), []validationCase{
		{name: "valid", obj: role(rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}})},
		{name: "names are path segments", obj: &rbacv1.Role{ObjectMeta: testMeta("system:Pod_Reader", "default")}},
		{name: "name with a slash", obj: &rbacv1.Role{ObjectMeta: testMeta("a/b", "default")}, want: []string{"FieldValueInvalid metadata.name"}},
		{name: "verbs required", obj: role(rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}}),
			want: []string{"FieldValueRequired rules[0].verbs"}},
		{name: "groups and resources required", obj: role(rbacv1.PolicyRule{Verbs: []string{"get"}}),
			want: []string{"FieldValueRequired rules[0].apiGroups", "FieldValueRequired rules[0].resources"}},
		{name: "resource names of several resources", obj: role(rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""},
			Resources: []string{"pods", "secrets"}, ResourceNames: []string{"x"}}),
			want: []string{"FieldValueRequired rules[0].resourceNames"}},
		{name: "no non-resource URLs in roles", obj: role(rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}),
			want: []string{"FieldValueInvalid rules[0].nonResourceURLs"}},
		{name: "namespace required", obj: &rbacv1.Role{ObjectMeta: testMeta("r", "")}, want: []string{"FieldValueRequired metadata.namespace"}},
	})
}

func TestClusterRoleValidation(t *testing.T) {
	cr := func(rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: testMeta("monitoring", ""), Rules: rules}
	}
	aggregated := func(selectors ...metav1.LabelSelector) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: testMeta("agg", ""), AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: selectors}}
	}
	runValidation(t, ClusterRoles(), []validationCase{
		{name: "non-resource URLs", obj: cr(rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics", "/healthz/*"}})},
		{name: "URLs and resources mixed", obj: cr(rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics"}, Resources: []string{"pods"}}),
			want: []string{"FieldValueInvalid rules[0].nonResourceURLs"}},
		{name: "aggregation rule", obj: aggregated(metav1.LabelSelector{MatchLabels: map[string]string{"rbac.example.com/aggregate-to-monitoring": "true"}})},
		{name: "aggregation rule without selectors", obj: aggregated(),
			want: []string{"FieldValueRequired aggregationRule.clusterRoleSelectors"}},
		{name: "bad aggregation selector", obj: aggregated(metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}}),
			want: []string{"FieldValueInvalid aggregationRule.clusterRoleSelectors[0].matchLabels", "FieldValueInvalid aggregationRule.clusterRoleSelectors[0]"}},
		{name: "cluster-scoped", obj: &rbacv1.ClusterRole{ObjectMeta: testMeta("c", "default")}, want: []string{"FieldValueForbidden metadata.namespace"}},
	})
}

func TestRoleBindingDefaultsAndValidation(t *testing.T) {
	r := RoleBindings()
	b := &rbacv1.RoleBinding{ObjectMeta: testMeta("b", "default"), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "alice"}, {Kind: "Group", Name: "devs"}, {Kind: "ServiceAccount", Name: "ci"}}}
	r.Default(b)
	if b.RoleRef.APIGroup != rbacv1.GroupName || b.Subjects[0].APIGroup != rbacv1.GroupName ||
		b.Subjects[1].APIGroup != rbacv1.GroupName || b.Subjects[2].APIGroup != "" {
		t.Fatalf("defaulted: %+v", b)
	}
	b.Subjects[2].Namespace = "default"
	b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "ops"})
	if got := r.Cells(b); !reflect.DeepEqual([]any{got[0], got[1], got[3], got[4], got[5]},
		[]any{"b", "Role/r", "alice", "devs, ops", "default/ci"}) {
		t.Errorf("cells %q", got)
	}

	binding := func(ref rbacv1.RoleRef, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{ObjectMeta: testMeta("b", "default"), RoleRef: ref, Subjects: subjects}
	}
	role := rbacv1.RoleRef{Kind: "Role", Name: "r"}
	runValidation(t, r, []validationCase{
		{name: "role", obj: binding(role, rbacv1.Subject{Kind: "User", Name: "alice"})},
		{name: "cluster role", obj: binding(rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}, rbacv1.Subject{Kind: "ServiceAccount", Name: "ci"})},
		{name: "unknown role kind", obj: binding(rbacv1.RoleRef{Kind: "Policy", Name: "r"}), want: []string{"FieldValueNotSupported roleRef.kind"}},
		{name: "other role group", obj: binding(rbacv1.RoleRef{APIGroup: "example.com", Kind: "Role", Name: "r"}),
			want: []string{"FieldValueNotSupported roleRef.apiGroup"}},
		{name: "role name required", obj: binding(rbacv1.RoleRef{Kind: "Role"}), want: []string{"FieldValueRequired roleRef.name"}},
		{name: "subject without name", obj: binding(role, rbacv1.Subject{Kind: "User"}),
			want: []string{"FieldValueRequired subjects[0].name", "FieldValueInvalid subjects[0].name"}},
		{name: "unknown subject kind", obj: binding(role, rbacv1.Subject{Kind: "Robot", Name: "r2"}),
			want: []string{"FieldValueNotSupported subjects[0].kind"}},
		{name: "service account with API group", obj: binding(role, rbacv1.Subject{Kind: "ServiceAccount", Name: "ci", APIGroup: "rbac.authorization.k8s.io"}),
			want: []string{"FieldValueNotSupported subjects[0].apiGroup"}},
		{name: "bad service account name", obj: binding(role, rbacv1.Subject{Kind: "ServiceAccount", Name: "CI"}),
			want: []string{"FieldValueInvalid subjects[0].name"}},
		{name: "roleRef is immutable", obj: binding(rbacv1.RoleRef{Kind: "ClusterRole", Name: "edit"}),
			old:  binding(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"}),
			want: []string{"FieldValueInvalid roleRef"}},
		{name: "subjects may change", obj: binding(role, rbacv1.Subject{Kind: "User", Name: "bob"}),
			old: binding(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "r"}, rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice"})},
	})
}

func TestClusterRoleBindingValidation(t *testing.T) {
	binding := func(ref rbacv1.RoleRef, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{ObjectMeta: testMeta("b", ""), RoleRef: ref, Subjects: subjects}
	}
	admin := rbacv1.RoleRef{Kind: "ClusterRole", Name: "cluster-admin"}
	runValidation(t, ClusterRoleBindings(), []validationCase{
		{name: "valid", obj: binding(admin, rbacv1.Subject{Kind: "Group", Name: "system:masters"},
			rbacv1.Subject{Kind: "ServiceAccount", Namespace: "kube-system", Name: "ci"})},
		{name: "no roles", obj: binding(rbacv1.RoleRef{Kind: "Role", Name: "r"}), want: []string{"FieldValueNotSupported roleRef.kind"}},
		{name: "service account needs a namespace", obj: binding(admin, rbacv1.Subject{Kind: "ServiceAccount", Name: "ci"}),
			want: []string{"FieldValueRequired subjects[0].namespace"}},
		{name: "roleRef is immutable", obj: binding(rbacv1.RoleRef{Kind: "ClusterRole", Name: "view"}),
			old:  binding(rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}),
			want: []string{"FieldValueInvalid roleRef"}},
	})
	cols := ClusterRoleBindings().Columns
	if cols[1].Name != "Role" || cols[2].Name != "Age" || cols[3].Priority != 1 || cols[5].Name != "ServiceAccounts" {
		t.Errorf("columns %+v", cols)
	}
}
