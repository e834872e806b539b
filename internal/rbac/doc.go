// Package rbac is upstream's RBAC authorizer for mini: it decides whether a
// user may make a request from the Roles, ClusterRoles and their bindings,
// lists the rules that apply to a user (for SelfSubjectRulesReview and
// `kubectl auth can-i --list`), checks that a role write grants nothing
// its writer does not hold, and carries upstream's bootstrap policy: the
// default cluster roles and bindings every cluster starts with.
//
// The matching rules are re-expressed from kubernetes/kubernetes
// (plugin/pkg/auth/authorizer/rbac, pkg/apis/rbac/v1/evaluation_helpers.go,
// pkg/registry/rbac/validation/rule.go and the bootstrappolicy package);
// the covers check is k8s.io/component-helpers' own.
package rbac
