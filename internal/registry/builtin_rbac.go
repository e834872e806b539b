package registry

// rbacResources lists roles, rolebindings, clusterroles, clusterrolebindings.
func rbacResources() []*Resource {
	return []*Resource{Roles(), RoleBindings(), ClusterRoles(), ClusterRoleBindings()}
}
