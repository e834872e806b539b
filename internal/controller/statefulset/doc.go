// Package statefulset is upstream's StatefulSet controller
// (pkg/controller/statefulset): pods with stable names <set>-<ordinal>,
// hostnames and per-pod PersistentVolumeClaims from volumeClaimTemplates,
// created in ordinal order and removed in reverse (OrderedReady) or all at
// once (Parallel), rolled to a new template from the highest ordinal down
// to the partition (RollingUpdate) or when deleted (OnDelete), with each
// template recorded as a ControllerRevision (status currentRevision and
// updateRevision; `kubectl rollout history|undo`) and PVC retention on
// deletion and scale-down expressed as owner references for the garbage
// collector.
package statefulset
