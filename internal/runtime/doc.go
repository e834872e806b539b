// Package runtime declares the container runtime the node agent drives: a
// reduced form of Kubernetes' CRI (k8s.io/cri-api RuntimeService and
// ImageService). A pod is a sandbox (for containerd, the pod's network
// namespace; for the sim backend, a record) holding containers; every object
// carries the labels the agent puts on it (pod UID, namespace, name,
// container name) so that an agent that restarts finds and adopts what it
// left running, as kubelet does through the CRI's labels.
//
// Two backends implement Runtime: sim (no processes, for scale tests and
// --sim-nodes) and containerd (issue 5). Exec, attach, logs and
// port-forward are not part of Runtime yet; they will come as a separate
// Streamer interface beside it, as CRI keeps them apart from lifecycle calls.
//
// The agent learns of container exits by relisting (kubelet's generic PLEG):
// ListContainers is cheap by design, and a backend that can push events may
// also implement EventSource so that exits are seen at once.
package runtime
