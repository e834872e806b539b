// Package disruption is upstream's disruption controller
// (kube-controller-manager's "disruption"): it keeps the status of every
// PodDisruptionBudget, which the eviction subresource reads and spends.
//
// For a budget it counts the matching pods that are ready and neither
// being deleted nor recently evicted (currentHealthy), derives how many
// must stay healthy (desiredHealthy) from minAvailable or maxUnavailable,
// and allows currentHealthy-desiredHealthy disruptions. An integer
// minAvailable counts the pods that exist; a percentage, or any
// maxUnavailable, is taken of the replicas the pods' controllers ask for
// (ReplicaSet, Deployment, StatefulSet; mini serves no
// ReplicationControllers), so that
// missing pods count as unavailable. An eviction records the pod it takes
// in status.disruptedPods; the controller keeps the entry until the pod is
// being deleted or two minutes have passed, and then no longer.
package disruption
