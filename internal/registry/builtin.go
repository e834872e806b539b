package registry

// Builtin is every resource mini serves, in discovery order. Each family
// of resources lists itself in its own builtin_*.go file.
func Builtin() (*Registry, error) {
	var all []*Resource
	for _, family := range [][]*Resource{
		coreResources(),
		workloadResources(),
		clusterResources(),
		networkingResources(),
		rbacResources(),
		reviewResources(),
	} {
		all = append(all, family...)
	}
	return New(all...)
}

// coreResources are the core group's basic resources.
func coreResources() []*Resource {
	return []*Resource{Namespaces(), ConfigMaps(), Secrets()}
}
