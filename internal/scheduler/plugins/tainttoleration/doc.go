// Package tainttoleration is upstream's TaintToleration plugin: Filter
// rejects nodes with a NoSchedule or NoExecute taint the pod does not
// tolerate; Score prefers nodes with fewer untolerated PreferNoSchedule
// taints.
package tainttoleration
