// Package agent is mini's node agent: the kubelet role for one node. It
// registers the Node, keeps its Lease and status fresh, and runs the pods
// bound to the node on a runtime.Runtime (sim today, containerd later),
// reporting their status as kubelet does.
//
// The moving parts, each in its own file:
//
//   - node.go, heartbeat.go: registration, the Lease renewed every 10 s,
//     node status posted when it changed or every 5 minutes;
//   - source.go: where pods and the Node come from. A lone agent watches
//     its own pods (spec.nodeName=<node>); --sim-nodes runs a thousand
//     agents off one shared informer through the same Handler interface;
//   - podworkers.go: one work-queue item per pod UID, so a pod is synced by
//     one worker at a time, level-based, from the runtime's state;
//   - sync.go: kubelet's syncPod: sandbox, images, init containers in
//     order, containers, restart policy with crash-loop back-off,
//     termination and the final delete with grace period 0;
//   - status.go: the pod status kubelet would report (phase, conditions,
//     container statuses), written as a status patch when it changed;
//   - pleg.go: the runtime's container events and a periodic relist;
//   - ipam.go: pod IPs from the node's spec.podCIDR.
//
// The agent keeps no state that the runtime does not also hold (container
// labels name their pod), so a restarted agent adopts what it left.
package agent
