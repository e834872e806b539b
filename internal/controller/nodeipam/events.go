package nodeipam

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// recordNodeStatusChange records an event the way upstream's
// nodeutil.RecordNodeStatusChange does: the node is referenced with its
// name as UID, so that events survive the node's re-registration.
func recordNodeStatusChange(rec record.EventRecorder, node *corev1.Node, status string) {
	ref := &corev1.ObjectReference{
		APIVersion: "v1",
		Kind:       "Node",
		Name:       node.Name,
		UID:        types.UID(node.Name),
	}
	rec.Eventf(ref, corev1.EventTypeNormal, status, "Node %s status is now: %s", node.Name, status)
}
