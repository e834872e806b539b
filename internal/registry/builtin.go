package registry

// Builtin is every resource mini serves, in discovery order.
func Builtin() (*Registry, error) {
	return New(
		Namespaces(),
		ConfigMaps(),
		Secrets(),
	)
}
