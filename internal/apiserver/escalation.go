package apiserver

import (
	"context"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/rbac"
	"mini.dev/mini/internal/registry"
)

// loopbackUser is the server acting for itself (bootstrap objects), as
// upstream's loopback client: privileged.
var loopbackUser = user{Name: "system:apiserver", Groups: []string{groupMasters, groupAuthenticated}}

func asLoopback(ctx context.Context) context.Context {
	return context.WithValue(ctx, userKey{}, loopbackUser)
}

// checkEscalation refuses a role or binding write that would grant
// permissions the writer does not hold, as upstream's RBAC storage does,
// unless the writer may "escalate" the role or "bind" the binding's role.
func (s *Server) checkEscalation(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	u, _ := userFrom(ctx)
	if s.authz == nil || slices.Contains(u.Groups, groupMasters) {
		return nil
	}
	may := func(verb, resource, namespace, name string) bool {
		ok, _ := s.allowed(u, rbac.Attributes{User: u.Name, Groups: u.Groups, Verb: verb, APIGroup: rbacv1.GroupName,
			Resource: resource, Namespace: namespace, Name: name, ResourceRequest: true})
		return ok
	}
	var namespace, name string
	var rules []rbacv1.PolicyRule
	switch o := obj.(type) {
	case *rbacv1.Role:
		if may("escalate", "roles", o.Namespace, o.Name) {
			return nil
		}
		namespace, name, rules = o.Namespace, o.Name, o.Rules
	case *rbacv1.ClusterRole:
		if may("escalate", "clusterroles", "", o.Name) {
			return nil
		}
		name, rules = o.Name, o.Rules
	case *rbacv1.RoleBinding:
		namespace, name = o.Namespace, o.Name
		var err error
		if rules, err = s.boundRules(u, may, o.RoleRef, o.Namespace); err != nil || rules == nil {
			return err
		}
	case *rbacv1.ClusterRoleBinding:
		name = o.Name
		var err error
		if rules, err = s.boundRules(u, may, o.RoleRef, ""); err != nil || rules == nil {
			return err
		}
	default:
		return nil
	}
	if err := s.authz.ConfirmNoEscalation(u.Name, u.Groups, namespace, rules); err != nil {
		return apierrors.NewForbidden(res.GVR.GroupResource(), name, err)
	}
	return nil
}

// boundRules are the rules a binding's role grants, or nil when the writer
// may "bind" that role and needs no check.
func (s *Server) boundRules(u user, may func(verb, resource, namespace, name string) bool, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	if ref.Kind == "ClusterRole" {
		if may("bind", "clusterroles", "", ref.Name) {
			return nil, nil
		}
		role, err := s.rbac.GetClusterRole(ref.Name)
		if err != nil {
			return nil, apierrors.NewNotFound(rbacv1.Resource("clusterroles"), ref.Name)
		}
		return nonNil(role.Rules), nil
	}
	if may("bind", "roles", namespace, ref.Name) {
		return nil, nil
	}
	role, err := s.rbac.GetRole(namespace, ref.Name)
	if err != nil {
		return nil, apierrors.NewNotFound(rbacv1.Resource("roles"), ref.Name)
	}
	return nonNil(role.Rules), nil
}

// nonNil keeps "no rules" distinct from "no check needed".
func nonNil(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	if rules == nil {
		return []rbacv1.PolicyRule{}
	}
	return rules
}
