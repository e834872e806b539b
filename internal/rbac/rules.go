package rbac

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// RulesAllow reports whether any of rules allows the request.
func RulesAllow(attr Attributes, rules ...rbacv1.PolicyRule) bool {
	for i := range rules {
		if RuleAllows(attr, &rules[i]) {
			return true
		}
	}
	return false
}

// RuleAllows reports whether one rule allows the request, as upstream
// matches it: a resource request needs the verb, the API group, the
// resource (with its subresource as "pods/log", or "*/log") and, when the
// rule names any, the object's name; a non-resource request needs the verb
// and the path.
func RuleAllows(attr Attributes, rule *rbacv1.PolicyRule) bool {
	if !verbMatches(rule, attr.Verb) {
		return false
	}
	if !attr.ResourceRequest {
		return nonResourceURLMatches(rule, attr.Path)
	}
	combined := attr.Resource
	if attr.Subresource != "" {
		combined += "/" + attr.Subresource
	}
	return apiGroupMatches(rule, attr.APIGroup) &&
		resourceMatches(rule, combined, attr.Subresource) &&
		resourceNameMatches(rule, attr.Name)
}

func verbMatches(rule *rbacv1.PolicyRule, verb string) bool {
	for _, v := range rule.Verbs {
		if v == rbacv1.VerbAll || v == verb {
			return true
		}
	}
	return false
}

func apiGroupMatches(rule *rbacv1.PolicyRule, group string) bool {
	for _, g := range rule.APIGroups {
		if g == rbacv1.APIGroupAll || g == group {
			return true
		}
	}
	return false
}

// resourceMatches matches "*", the exact "resource[/subresource]", or
// "*/subresource" for any resource's subresource.
func resourceMatches(rule *rbacv1.PolicyRule, combined, subresource string) bool {
	for _, r := range rule.Resources {
		if r == rbacv1.ResourceAll || r == combined {
			return true
		}
		if subresource != "" && r == "*/"+subresource {
			return true
		}
	}
	return false
}

// resourceNameMatches: a rule without names applies to every object.
func resourceNameMatches(rule *rbacv1.PolicyRule, name string) bool {
	if len(rule.ResourceNames) == 0 {
		return true
	}
	for _, n := range rule.ResourceNames {
		if n == name {
			return true
		}
	}
	return false
}

// nonResourceURLMatches matches "*", the exact path, or a prefix ending in
// "*" ("/healthz/*" matches "/healthz/etcd", "/api*" matches "/apis").
func nonResourceURLMatches(rule *rbacv1.PolicyRule, path string) bool {
	for _, u := range rule.NonResourceURLs {
		if u == rbacv1.NonResourceAll || u == path {
			return true
		}
		if strings.HasSuffix(u, "*") && strings.HasPrefix(path, strings.TrimRight(u, "*")) {
			return true
		}
	}
	return false
}
