package rbac

import (
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Attributes is one request to authorize.
type Attributes struct {
	User   string
	Groups []string
	// Verb is the API verb (get, list, watch, create, update, patch,
	// delete, deletecollection, or a special verb such as bind, escalate,
	// impersonate) or, for a non-resource request, the lower-case HTTP
	// method ("get" for GET).
	Verb                                             string
	APIGroup, Resource, Subresource, Namespace, Name string
	// Path is the URL path of a non-resource request ("/healthz").
	Path            string
	ResourceRequest bool
}

// Lister gives the authorizer the RBAC objects (the lead backs it by the
// store; tests can use slices). A missing object is an error, worded as
// client-go's listers word it (`role.rbac.authorization.k8s.io "x" not
// found`): it becomes part of the denial's reason.
type Lister interface {
	ClusterRoles() ([]*rbacv1.ClusterRole, error)
	ClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error)
	Roles(namespace string) ([]*rbacv1.Role, error)
	RoleBindings(namespace string) ([]*rbacv1.RoleBinding, error)
	GetClusterRole(name string) (*rbacv1.ClusterRole, error)
	GetRole(namespace, name string) (*rbacv1.Role, error)
}

// Authorizer decides requests from RBAC objects, as kube-apiserver's RBAC
// authorizer does: rules only ever allow, so anything no rule allows is
// denied, and an error resolving some binding only matters when nothing
// else allows the request.
type Authorizer struct {
	lister Lister
}

// New makes an authorizer reading its objects from l.
func New(l Lister) *Authorizer { return &Authorizer{lister: l} }

// Authorize returns whether the request is allowed and upstream's reason:
// "RBAC: allowed by ClusterRoleBinding ..." when allowed; when denied,
// empty, or "RBAC: " and the errors met while resolving bindings (a
// binding to a role that does not exist), which kube-apiserver appends to
// its 403 message after ": ". The error is reserved for failures of the
// authorizer itself; RBAC never has one.
func (a *Authorizer) Authorize(attr Attributes) (allowed bool, reason string, err error) {
	var errs []error
	a.visitRules(attr.User, attr.Groups, attr.Namespace, func(source fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil && RuleAllows(attr, rule) {
			allowed, reason = true, "RBAC: allowed by "+source.String()
			return false
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if allowed {
		return true, reason, nil
	}
	if len(errs) > 0 {
		reason = fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs))
	}
	return false, reason, nil
}

// RulesFor lists the rules that apply to a user in a namespace (for
// SelfSubjectRulesReview / kubectl auth can-i --list): every rule of every
// cluster role binding naming the user, then of every role binding in the
// namespace. The error aggregates what could not be resolved; the rules
// returned are still valid, since rules only ever allow.
func (a *Authorizer) RulesFor(user string, groups []string, namespace string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	a.visitRules(user, groups, namespace, func(_ fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// visitor sees each rule that applies, or an error met on the way; it
// returns false to stop.
type visitor func(source fmt.Stringer, rule *rbacv1.PolicyRule, err error) bool

// visitRules walks the cluster role bindings, then (for a namespaced
// request) the namespace's role bindings, in upstream's order.
func (a *Authorizer) visitRules(user string, groups []string, namespace string, visit visitor) {
	crbs, err := a.lister.ClusterRoleBindings()
	if err != nil {
		if !visit(nil, nil, err) {
			return
		}
	}
	for _, b := range crbs {
		i, ok := appliesTo(user, groups, b.Subjects, "")
		if !ok {
			continue
		}
		rules, err := a.roleRefRules(b.RoleRef, "")
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		source := bindingSource{kind: "ClusterRoleBinding", name: b.Name, roleRef: b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !visit(source, &rules[j], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := a.lister.RoleBindings(namespace)
	if err != nil {
		visit(nil, nil, err)
		return
	}
	for _, b := range rbs {
		i, ok := appliesTo(user, groups, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, err := a.roleRefRules(b.RoleRef, namespace)
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		source := bindingSource{kind: "RoleBinding", name: b.Name + "/" + b.Namespace, namespace: namespace,
			roleRef: b.RoleRef, subject: &b.Subjects[i]}
		for j := range rules {
			if !visit(source, &rules[j], nil) {
				return
			}
		}
	}
}

// roleRefRules resolves a binding's role: a Role in the binding's
// namespace, or a ClusterRole (which a RoleBinding grants only within its
// namespace, since role bindings are only consulted there).
func (a *Authorizer) roleRefRules(ref rbacv1.RoleRef, bindingNamespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		role, err := a.lister.GetRole(bindingNamespace, ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	case "ClusterRole":
		role, err := a.lister.GetClusterRole(ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	default:
		return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
	}
}

// bindingSource describes where an allowing rule came from, as upstream:
// ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters".
type bindingSource struct {
	kind, name, namespace string
	roleRef               rbacv1.RoleRef
	subject               *rbacv1.Subject
}

func (s bindingSource) String() string {
	return fmt.Sprintf("%s %q of %s %q to %s", s.kind, s.name, s.roleRef.Kind, s.roleRef.Name,
		describeSubject(s.subject, s.namespace))
}
