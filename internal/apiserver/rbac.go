package apiserver

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"mini.dev/mini/internal/rbac"
	"mini.dev/mini/internal/registry"
)

// rbacLister serves the authorizer's reads from the RBAC object caches.
type rbacLister struct {
	clusterRoles, clusterRoleBindings, roles, roleBindings *objectCache
}

func (s *Server) newRBACLister() (*rbacLister, bool) {
	l := &rbacLister{}
	for name, c := range map[string]**objectCache{
		"clusterroles": &l.clusterRoles, "clusterrolebindings": &l.clusterRoleBindings,
		"roles": &l.roles, "rolebindings": &l.roleBindings,
	} {
		res, ok := s.cfg.Registry.Lookup(rbacv1.SchemeGroupVersion.WithResource(name))
		if !ok {
			return nil, false
		}
		*c = newObjectCache(res)
	}
	return l, true
}

func (l *rbacLister) caches() []*objectCache {
	return []*objectCache{l.clusterRoles, l.clusterRoleBindings, l.roles, l.roleBindings}
}

func typedList[T runtime.Object](objs []runtime.Object) []T {
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

func (l *rbacLister) ClusterRoles() ([]*rbacv1.ClusterRole, error) {
	return typedList[*rbacv1.ClusterRole](l.clusterRoles.list("")), nil
}

func (l *rbacLister) ClusterRoleBindings() ([]*rbacv1.ClusterRoleBinding, error) {
	return typedList[*rbacv1.ClusterRoleBinding](l.clusterRoleBindings.list("")), nil
}

func (l *rbacLister) Roles(namespace string) ([]*rbacv1.Role, error) {
	return typedList[*rbacv1.Role](l.roles.list(namespace)), nil
}

func (l *rbacLister) RoleBindings(namespace string) ([]*rbacv1.RoleBinding, error) {
	return typedList[*rbacv1.RoleBinding](l.roleBindings.list(namespace)), nil
}

func (l *rbacLister) GetClusterRole(name string) (*rbacv1.ClusterRole, error) {
	if obj, ok := l.clusterRoles.get("", name); ok {
		return obj.(*rbacv1.ClusterRole), nil
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("clusterrole"), name)
}

func (l *rbacLister) GetRole(namespace, name string) (*rbacv1.Role, error) {
	if obj, ok := l.roles.get(namespace, name); ok {
		return obj.(*rbacv1.Role), nil
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("role"), name)
}

// bootstrapRBAC creates upstream's default cluster roles and bindings that
// are missing, as kube-apiserver does at start.
func (s *Server) bootstrapRBAC(ctx context.Context) error {
	roleRes, ok1 := s.cfg.Registry.Lookup(rbacv1.SchemeGroupVersion.WithResource("clusterroles"))
	bindingRes, ok2 := s.cfg.Registry.Lookup(rbacv1.SchemeGroupVersion.WithResource("clusterrolebindings"))
	if !ok1 || !ok2 {
		return nil
	}
	roles, bindings := rbac.BootstrapPolicy()
	create := func(res *registry.Resource, name string, obj runtime.Object) error {
		if _, _, err := s.getObject(ctx, res, "", name); err == nil {
			return nil
		}
		_, err := s.createObject(ctx, res, "", obj, writeOptions{manager: "kube-apiserver"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("bootstrap %s %s: %w", res.Kind, name, err)
		}
		return nil
	}
	for _, r := range roles {
		if err := create(roleRes, r.Name, r); err != nil {
			return err
		}
	}
	for _, b := range bindings {
		if err := create(bindingRes, b.Name, b); err != nil {
			return err
		}
	}
	return nil
}
