package rbac

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/component-helpers/auth/rbac/validation"
)

// ConfirmNoEscalation is upstream's guard on writing roles and bindings:
// the writer must already hold, in namespace ("" for cluster roles and
// bindings), every permission in rules. The error is the text upstream
// puts in its 403: which rules are missing, compacted and sorted. The
// caller skips the check for system:masters and for users allowed the
// "escalate" verb on the role (or "bind" on a binding's role), as
// upstream does.
func (a *Authorizer) ConfirmNoEscalation(user string, groups []string, namespace string, rules []rbacv1.PolicyRule) error {
	owner, resolveErr := a.RulesFor(user, groups, namespace)
	covered, missing := validation.Covers(owner, rules)
	if covered {
		return nil
	}
	var lines []string
	for _, r := range compactRules(missing) {
		if s := compactString(r); !slices.Contains(lines, s) {
			lines = append(lines, s)
		}
	}
	slices.Sort(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		user, groups, strings.Join(lines, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return fmt.Errorf("%s", msg)
}

// compactRules merges rules of one API group and one resource that differ
// only in their verbs, as upstream's CompactRules does to the broken-down
// missing rules.
func compactRules(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type groupResource struct{ group, resource string }
	var out []rbacv1.PolicyRule
	simple := map[groupResource]int{} // index in out
	for _, r := range rules {
		plain := rbacv1.PolicyRule{APIGroups: r.APIGroups, Resources: r.Resources, Verbs: r.Verbs}
		if len(r.APIGroups) != 1 || len(r.Resources) != 1 || !reflect.DeepEqual(plain, r) {
			out = append(out, r)
			continue
		}
		key := groupResource{r.APIGroups[0], r.Resources[0]}
		if i, ok := simple[key]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		simple[key] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// compactString is upstream's rule rendering in escalation messages:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["create" "get"]}.
func compactString(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, values []string) {
		if len(values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", name, values))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("NonResourceURLs", r.NonResourceURLs)
	add("ResourceNames", r.ResourceNames)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}
