package nodename

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "NodeName"

// ErrReason is upstream's reason.
const ErrReason = "node(s) didn't match the requested node name"

// NodeName is the plugin.
type NodeName struct{}

// Name returns the plugin name.
func (NodeName) Name() string { return Name }

// Filter rejects nodes other than the one the pod names.
func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	if pod.Spec.NodeName == "" || pod.Spec.NodeName == node.Node.Name {
		return nil
	}
	return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReason)
}
