// Package nodeunschedulable is upstream's NodeUnschedulable filter: a
// cordoned node (spec.unschedulable) takes only pods that tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint, which is how
// DaemonSet pods still land on cordoned nodes.
package nodeunschedulable
