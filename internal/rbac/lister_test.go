package rbac

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// sliceLister serves RBAC objects from slices, with client-go's listers'
// not-found errors.
type sliceLister struct {
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
	roles               []*rbacv1.Role
	roleBindings        []*rbacv1.RoleBinding
}

func (l *sliceLister) ClusterRoles() ([]*rbacv1.ClusterRole, error) { return l.clusterRoles, nil }

func (l *sliceLister) ClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	return l.clusterRoleBindings, nil
}

func (l *sliceLister) Roles(namespace string) ([]*rbacv1.Role, error) {
	var out []*rbacv1.Role
	for _, r := range l.roles {
		if r.Namespace == namespace {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *sliceLister) RoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	var out []*rbacv1.RoleBinding
	for _, b := range l.roleBindings {
		if b.Namespace == namespace {
			out = append(out, b)
		}
	}
	return out, nil
}

func (l *sliceLister) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	for _, r := range l.clusterRoles {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("clusterrole"), name)
}

func (l *sliceLister) GetRole(namespace, name string) (*rbacv1.Role, error) {
	for _, r := range l.roles {
		if r.Namespace == namespace && r.Name == name {
			return r, nil
		}
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("role"), name)
}
