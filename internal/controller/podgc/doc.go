// Package podgc is upstream's pod garbage collector (pkg/controller/podgc).
// Every 20 s it force-deletes (grace period 0):
//
//   - terminated pods (Succeeded or Failed) beyond TerminatedPodThreshold,
//     evicted ones first, then oldest first;
//   - orphaned pods, bound to a node that no longer exists. A node missing
//     from the cache is quarantined for 40 s and then confirmed absent with
//     a GET, so a node that is only slow to appear keeps its pods; the pod
//     first gets the DisruptionTarget condition (reason DeletionByPodGC)
//     and phase Failed;
//   - terminating pods that were never scheduled, which no kubelet will
//     ever finish;
//   - terminating pods on a node that is not Ready and carries the
//     node.kubernetes.io/out-of-service taint (non-graceful node shutdown).
package podgc
