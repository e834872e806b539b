package runtime

import (
	"context"
	"time"
)

// Runtime runs pod sandboxes and their containers on one node. Every
// method is safe for concurrent use. IDs are opaque strings chosen by the
// backend. Methods that act on an ID return an error wrapping ErrNotFound
// when the object does not exist; Stop and Remove calls are idempotent.
type Runtime interface {
	// Version names the backend ("sim", "containerd") and its version, as
	// node status reports them ("sim://1").
	Version(ctx context.Context) (VersionInfo, error)

	// RunPodSandbox creates and starts a sandbox (its network is set up
	// with cfg.IPs) and returns its ID.
	RunPodSandbox(ctx context.Context, cfg *PodSandboxConfig) (string, error)
	// StopPodSandbox stops every container in the sandbox at once and
	// tears down its network; the sandbox becomes NotReady.
	StopPodSandbox(ctx context.Context, id string) error
	// RemovePodSandbox removes a sandbox and every container in it.
	RemovePodSandbox(ctx context.Context, id string) error
	// PodSandboxStatus returns the sandbox's current state.
	PodSandboxStatus(ctx context.Context, id string) (*PodSandbox, error)
	// ListPodSandboxes returns the sandboxes matching the filter (nil: all).
	ListPodSandboxes(ctx context.Context, filter *SandboxFilter) ([]*PodSandbox, error)

	// CreateContainer creates (but does not start) a container in a sandbox.
	CreateContainer(ctx context.Context, sandboxID string, cfg *ContainerConfig, sandbox *PodSandboxConfig) (string, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, id string) error
	// StopContainer asks the container to stop and kills it after timeout
	// (a zero timeout kills at once).
	StopContainer(ctx context.Context, id string, timeout time.Duration) error
	// RemoveContainer removes a container that is not running.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers returns the containers matching the filter (nil: all),
	// with their current state.
	ListContainers(ctx context.Context, filter *ContainerFilter) ([]*Container, error)
	// ContainerStatus returns a container's full status.
	ContainerStatus(ctx context.Context, id string) (*ContainerStatus, error)

	// PullImage pulls an image and returns its reference by digest.
	PullImage(ctx context.Context, image string, auth *AuthConfig) (string, error)
	// ImageStatus returns the image, or nil and no error when it is absent.
	ImageStatus(ctx context.Context, image string) (*Image, error)
	// ListImages returns every image the runtime holds.
	ListImages(ctx context.Context) ([]*Image, error)
	// RemoveImage removes an image; removing an absent image is no error.
	RemoveImage(ctx context.Context, image string) error
}

// EventSource is implemented by backends that push container events, so
// that the agent reacts to an exit before its next relist (kubelet's
// evented PLEG). The channel is closed when ctx ends.
type EventSource interface {
	ContainerEvents(ctx context.Context) <-chan ContainerEvent
}

// ContainerEvent says that a container changed state.
type ContainerEvent struct {
	ContainerID string
	SandboxID   string
	State       ContainerState
	// Labels of the container, so the receiver can tell its pod.
	Labels map[string]string
}

// VersionInfo is the backend's name and version.
type VersionInfo struct {
	RuntimeName       string // "sim", "containerd"
	RuntimeVersion    string // "1", "1.7.24"
	RuntimeAPIVersion string // "v1"
}

// SandboxState is a sandbox's state, as CRI names them.
type SandboxState string

const (
	SandboxReady    SandboxState = "SANDBOX_READY"
	SandboxNotReady SandboxState = "SANDBOX_NOTREADY"
)

// ContainerState is a container's state.
type ContainerState string

const (
	ContainerCreated ContainerState = "created"
	ContainerRunning ContainerState = "running"
	ContainerExited  ContainerState = "exited"
	ContainerUnknown ContainerState = "unknown"
)

// PodSandboxConfig describes a pod's sandbox. Labels identify the pod (see
// labels.go); Annotations are the pod's own, so backends may read them.
type PodSandboxConfig struct {
	Name      string
	Namespace string
	UID       string
	// Attempt counts the sandboxes made for this pod so far.
	Attempt     uint32
	Hostname    string
	Labels      map[string]string
	Annotations map[string]string
	// RestartPolicy is the pod's ("Always", "OnFailure", "Never"). Real
	// backends ignore it; sim uses it to decide when its containers exit.
	RestartPolicy string
	HostNetwork   bool
	// IPs are the pod's addresses, allocated by the agent's IPAM from the
	// node's pod CIDR; empty for host-network pods.
	IPs          []string
	PortMappings []PortMapping
	// LogDirectory is where container logs go (real backends); the
	// agent makes it (<root>/pods/<namespace>_<name>_<uid>).
	LogDirectory string
}

// PortMapping is a hostPort mapping.
type PortMapping struct {
	Protocol      string // TCP, UDP, SCTP
	ContainerPort int32
	HostPort      int32
	HostIP        string
}

// PodSandbox is a sandbox and its state.
type PodSandbox struct {
	ID          string
	Name        string
	Namespace   string
	UID         string
	Attempt     uint32
	State       SandboxState
	CreatedAt   time.Time
	IPs         []string
	Labels      map[string]string
	Annotations map[string]string
	// NetNSPath is the sandbox's network namespace (a bind-mounted file),
	// empty for host-network sandboxes and for backends without one.
	NetNSPath string
}

// ContainerConfig describes a container to create.
type ContainerConfig struct {
	Name string
	// Attempt is the container's restart count: 0 for the first run.
	Attempt     uint32
	Image       string
	Command     []string
	Args        []string
	WorkingDir  string
	Env         []KeyValue
	Mounts      []Mount
	Labels      map[string]string
	Annotations map[string]string
	Resources   Resources
	// Security is the container's effective security context (nil: the
	// runtime's defaults: root, default capabilities, writable rootfs).
	Security  *SecurityConfig
	Stdin     bool
	StdinOnce bool
	TTY       bool
	// LogPath is relative to the sandbox's LogDirectory.
	LogPath string
}

// SecurityConfig is a container's security context as the runtime applies
// it; the agent merges the pod's and the container's securityContext.
type SecurityConfig struct {
	RunAsUser          *int64
	RunAsGroup         *int64
	SupplementalGroups []int64 // fsGroup included
	Privileged         bool
	ReadOnlyRootFS     bool
	// NoNewPrivileges is allowPrivilegeEscalation=false.
	NoNewPrivileges bool
	// AddCapabilities and DropCapabilities are names without the CAP_
	// prefix, as in the pod spec ("NET_ADMIN"); "ALL" means every one.
	AddCapabilities  []string
	DropCapabilities []string
}

// KeyValue is an environment variable.
type KeyValue struct{ Key, Value string }

// Mount is a bind mount into a container.
type Mount struct {
	ContainerPath string
	HostPath      string
	ReadOnly      bool
}

// Resources are a container's cgroup limits (zero: unlimited).
type Resources struct {
	CPUShares          int64
	CPUQuota           int64
	CPUPeriod          int64
	MemoryLimitInBytes int64
}

// Container is a container as ListContainers reports it.
type Container struct {
	ID        string
	SandboxID string
	Name      string
	Attempt   uint32
	Image     string
	// ImageRef is the image by digest, as pod status reports it (imageID).
	ImageRef    string
	State       ContainerState
	CreatedAt   time.Time
	Labels      map[string]string
	Annotations map[string]string
}

// ContainerStatus is a container's full status.
type ContainerStatus struct {
	Container
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	// Reason is a short word for an exited container: "Completed",
	// "Error", "OOMKilled", "ContainerCannotRun".
	Reason  string
	Message string
	// LogPath is the container's log file (absolute; CRI log format, see
	// package crilog), empty for backends that keep no logs.
	LogPath string
}

// SandboxFilter selects sandboxes; empty fields match everything.
type SandboxFilter struct {
	ID            string
	State         SandboxState
	LabelSelector map[string]string
}

// ContainerFilter selects containers; empty fields match everything.
type ContainerFilter struct {
	ID            string
	SandboxID     string
	State         ContainerState
	LabelSelector map[string]string
}

// Image is an image the runtime holds.
type Image struct {
	ID          string
	RepoTags    []string
	RepoDigests []string
	Size        uint64
	// User is the image config's user ("", "1000", "app:app"), which
	// runAsNonRoot is checked against (ImageStatus fills it).
	User string
}

// AuthConfig holds registry credentials for PullImage.
type AuthConfig struct {
	Username, Password, Auth, ServerAddress, IdentityToken, RegistryToken string
}

// MatchLabels reports whether labels hold every key/value of selector.
func MatchLabels(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
