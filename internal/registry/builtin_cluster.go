package registry

// clusterResources lists services, endpoints, endpointslices,
// serviceaccounts, nodes, events (core and events.k8s.io),
// persistentvolumes, persistentvolumeclaims, resourcequotas, limitranges,
// componentstatuses, leases, priorityclasses and storageclasses: core
// first, then the other groups.
func clusterResources() []*Resource {
	return []*Resource{
		Services(), Endpoints(), ServiceAccounts(), Nodes(), Events(), PersistentVolumes(),
		PersistentVolumeClaims(), ResourceQuotas(), LimitRanges(), ComponentStatuses(),
		EndpointSlices(), EventsK8sIO(), Leases(), PriorityClasses(), StorageClasses(),
	}
}
