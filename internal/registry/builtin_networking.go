package registry

// networkingResources lists ingresses, ingressclasses, networkpolicies.
func networkingResources() []*Resource {
	return []*Resource{Ingresses(), IngressClasses(), NetworkPolicies()}
}
