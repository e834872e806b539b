package runtime

// Labels the agent puts on sandboxes and containers, the same keys kubelet
// uses, so that a restarted agent can tell which pod and container each
// runtime object belongs to.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	// LabelContainerType is "init" for init containers, "regular" otherwise
	// (mini's own; kubelet infers it from the pod spec).
	LabelContainerType = "mini.dev/container-type"
)

// Values of LabelContainerType.
const (
	ContainerTypeInit    = "init"
	ContainerTypeRegular = "regular"
)

// ContainerTypeSidecar marks a restartable init container (an init
// container with restartPolicy Always): it starts in init order but keeps
// running beside the regular containers.
const ContainerTypeSidecar = "sidecar"
