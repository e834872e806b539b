package rbac

import (
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Metadata upstream puts on every bootstrap object: the label that marks
// it as a default, and the annotation that lets the API server reconcile
// it at start-up.
const (
	bootstrapLabel      = "kubernetes.io/bootstrapping"
	bootstrapLabelValue = "rbac-defaults"

	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// Verb sets of upstream's bootstrap policy.
var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
)

// BootstrapPolicy returns upstream's default cluster roles and bindings
// that mini needs (see policy.go and controller_policy.go in upstream's
// bootstrappolicy package). admin, edit and view carry their aggregation
// rules and, already, the rules upstream's aggregation controller gathers
// into them, so that they work before any controller runs.
//
// One knowing difference: upstream leaves the system:node binding without
// subjects because its Node authorizer grants nodes their access; mini
// has no Node authorizer, so the binding names the system:nodes group, as
// upstream did before 1.8.
func BootstrapPolicy() (roles []*rbacv1.ClusterRole, bindings []*rbacv1.ClusterRoleBinding) {
	roles = append(clusterRoles(), controllerRoles()...)
	aggregate(roles)
	bindings = append(clusterRoleBindings(), controllerRoleBindings()...)
	for _, r := range roles {
		markBootstrap(&r.ObjectMeta)
	}
	for _, b := range bindings {
		markBootstrap(&b.ObjectMeta)
	}
	return roles, bindings
}

func markBootstrap(m *metav1.ObjectMeta) {
	if m.Labels == nil {
		m.Labels = map[string]string{}
	}
	m.Labels[bootstrapLabel] = bootstrapLabelValue
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations[rbacv1.AutoUpdateAnnotationKey] = "true"
}

// aggregate fills each aggregated role with the rules of the roles its
// selectors match, as upstream's clusterrole-aggregation controller does:
// matching roles in name order, each rule once. It repeats until nothing
// changes, since aggregated roles feed each other (view into edit into
// admin).
func aggregate(roles []*rbacv1.ClusterRole) {
	byName := slices.Clone(roles)
	slices.SortFunc(byName, func(a, b *rbacv1.ClusterRole) int { return strings.Compare(a.Name, b.Name) })
	for changed := true; changed; {
		changed = false
		for _, target := range roles {
			if target.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range target.AggregationRule.ClusterRoleSelectors {
				s, err := metav1.LabelSelectorAsSelector(&sel)
				if err != nil {
					continue
				}
				for _, r := range byName {
					if r.Name == target.Name || !s.Matches(labels.Set(r.Labels)) {
						continue
					}
					for _, rule := range r.Rules {
						if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return reflect.DeepEqual(have, rule) }) {
							rules = append(rules, rule)
						}
					}
				}
			}
			if !reflect.DeepEqual(rules, target.Rules) {
				target.Rules, changed = rules, true
			}
		}
	}
}

// ruleBuilder writes a policy rule the way upstream's policy does; r
// sorts every list, as upstream's builder does.
type ruleBuilder struct{ rule rbacv1.PolicyRule }

func rule(verbs ...string) ruleBuilder {
	return ruleBuilder{rbacv1.PolicyRule{Verbs: slices.Clone(verbs)}}
}

func (b ruleBuilder) groups(g ...string) ruleBuilder {
	b.rule.APIGroups = append(b.rule.APIGroups, g...)
	return b
}

func (b ruleBuilder) resources(r ...string) ruleBuilder {
	b.rule.Resources = append(b.rule.Resources, r...)
	return b
}

func (b ruleBuilder) names(n ...string) ruleBuilder {
	b.rule.ResourceNames = append(b.rule.ResourceNames, n...)
	return b
}

func (b ruleBuilder) urls(u ...string) ruleBuilder {
	b.rule.NonResourceURLs = append(b.rule.NonResourceURLs, u...)
	return b
}

func (b ruleBuilder) r() rbacv1.PolicyRule {
	for _, s := range [][]string{b.rule.Verbs, b.rule.APIGroups, b.rule.Resources, b.rule.ResourceNames, b.rule.NonResourceURLs} {
		slices.Sort(s)
	}
	return b.rule
}

// eventsRule lets a component record events in either events API.
func eventsRule() rbacv1.PolicyRule {
	return rule("create", "update", "patch").groups("", "events.k8s.io").resources("events").r()
}

func clusterRole(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
}

// aggregatedRole is a role whose rules are gathered from the roles with
// the label aggregateLabel=true.
func aggregatedRole(name, aggregateLabel string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{aggregateLabel: "true"}}}}}
}

func withLabel(r *rbacv1.ClusterRole, key string) *rbacv1.ClusterRole {
	r.Labels = map[string]string{key: "true"}
	return r
}

// clusterBinding binds the cluster role of the same name to subjects.
func clusterBinding(role string, subjects ...rbacv1.Subject) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: subjects}
}

func groups(names ...string) []rbacv1.Subject {
	var out []rbacv1.Subject
	for _, n := range names {
		out = append(out, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: n})
	}
	return out
}

func user(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

func serviceAccount(namespace, name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: name}
}
