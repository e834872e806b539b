// Package nodelifecycle is upstream's node lifecycle controller
// (pkg/controller/nodelifecycle) in its taint-based mode.
//
// Every MonitorPeriod it looks at each node's heartbeats: the renewTime of
// its Lease in kube-node-lease and the lastHeartbeatTime of its Ready
// condition. A heartbeat counts when it changes, and is timed by the
// controller's own clock, so that a node's clock skew does not matter.
// A node without a heartbeat for GracePeriod has all its conditions set to
// Unknown ("Kubelet stopped posting node status."), gets the
// node.kubernetes.io/unreachable taints, and its pods are marked not
// Ready. A node whose Ready condition is False gets the
// node.kubernetes.io/not-ready taints. The NoExecute taints are what the
// taint eviction controller (package tainteviction) acts on; the NoSchedule
// taints, which also follow the pressure conditions and spec.unschedulable,
// keep the scheduler away.
//
// As upstream, when no node at all is Ready the controller assumes the
// control plane, not the nodes, lost the network ("master disruption"):
// it adds no NoExecute taint and removes those it put, so that nothing is
// evicted; leaving that mode gives every node a fresh grace period.
//
// Upstream's per-zone eviction rate limits are not implemented: a node
// that goes NotReady is tainted at once.
package nodelifecycle
