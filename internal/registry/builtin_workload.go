package registry

// workloadResources lists pods and the workload controllers' resources:
// core/v1 pods, apps/v1 replicasets, deployments, statefulsets, daemonsets
// and controllerrevisions, batch/v1 jobs and cronjobs, and the policy/v1
// poddisruptionbudgets that guard their pods against evictions.
func workloadResources() []*Resource {
	return []*Resource{
		Pods(),
		// Within a group, in upstream's (alphabetical) discovery order.
		ControllerRevisions(), DaemonSets(), Deployments(), ReplicaSets(), StatefulSets(),
		CronJobs(), Jobs(),
		PodDisruptionBudgets(),
	}
}
