package registry

// networkingResources lists ingresses, ingressclasses, networkpolicies.
func networkingResources() []*Resource {
	return nil
}
