package registry

// workloadResources lists pods, replicasets, deployments, statefulsets, daemonsets, controllerrevisions, jobs, cronjobs.
func workloadResources() []*Resource {
	return nil
}
