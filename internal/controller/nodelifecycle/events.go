package nodelifecycle

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// nodeRef references a node in events as upstream does: by name, with the
// name as UID, so that events outlive the node's re-registration.
func nodeRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: types.UID(name)}
}

// recordNodeStatusChange is upstream's nodeutil.RecordNodeStatusChange.
func recordNodeStatusChange(rec record.EventRecorder, node *corev1.Node, status string) {
	rec.Eventf(nodeRef(node.Name), corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}

// recordNodeEvent is upstream's nodeutil.RecordNodeEvent.
func recordNodeEvent(rec record.EventRecorder, name, eventType, reason, message string) {
	rec.Event(nodeRef(name), eventType, reason, message)
}
