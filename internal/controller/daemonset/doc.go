// Package daemonset is upstream's DaemonSet controller
// (pkg/controller/daemon): one pod per eligible node, where a node is
// eligible when the pod's node selector and required node affinity match
// it and the pod tolerates its NoSchedule and NoExecute taints. Pods are
// pinned to their node by a required node affinity on metadata.name and
// placed by the scheduler. The controller follows nodes joining, changing
// and leaving, replaces failed pods with a backoff, rolls out template
// changes (RollingUpdate with maxUnavailable or maxSurge, or OnDelete) and
// records each template as a ControllerRevision for
// `kubectl rollout history|undo`.
package daemonset
