// Package replicaset is upstream's ReplicaSet controller: it keeps
// spec.replicas pods that match a ReplicaSet's selector alive, adopting
// orphans and releasing pods that stop matching, creating missing pods in
// growing batches and deleting the surplus in upstream's order, and it
// reports the counts (replicas, fully labeled, ready, available,
// terminating) and the ReplicaFailure condition in the status.
package replicaset
