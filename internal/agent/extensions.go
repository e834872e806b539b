package agent

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/agent/prober"
	"mini.dev/mini/internal/runtime"
)

// Volumes prepares what a pod's containers mount besides their image:
// its volumes (package volume) and the /etc files the agent manages for
// it (hosts, resolv.conf, hostname). Nil for runtimes that run nothing
// (sim): containers then get no mounts.
type Volumes interface {
	// SetUp materialises every volume of the pod (idempotent, called on
	// each sync) and returns each container's mounts by container name.
	SetUp(ctx context.Context, pod *corev1.Pod) (map[string][]runtime.Mount, error)
	// EtcFiles writes the pod's managed /etc files and returns their
	// mounts.
	EtcFiles(pod *corev1.Pod, podIPs []string) ([]runtime.Mount, error)
	// TearDown removes what SetUp and EtcFiles made for the pod.
	TearDown(uid types.UID) error
	// PodUIDs lists the pods with files on disk, so that a restarted
	// agent removes those of pods that are gone.
	PodUIDs() ([]types.UID, error)
}

// EnvResolver builds a container's environment (package envvars): it
// resolves valueFrom and envFrom references, which may fail with the
// message kubelet shows as CreateContainerConfigError.
type EnvResolver func(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string) ([]runtime.KeyValue, error)

// Prober runs probes and lifecycle hooks (package prober). Nil: every
// container is started and ready as soon as it runs, and hooks are not
// run (the sim runtime runs no processes to probe).
type Prober interface {
	Sync(pod *corev1.Pod, running map[string]prober.Running)
	Remove(uid types.UID)
	Ready(uid types.UID, containerID string) bool
	Started(uid types.UID, containerID string) bool
	Liveness(uid types.UID, containerID string) (failed bool, message string)
	KillGracePeriod(pod *corev1.Pod, containerID string) time.Duration
	RunHook(ctx context.Context, pod *corev1.Pod, c *corev1.Container, containerID string, h *corev1.LifecycleHandler) (string, error)
}

// literalEnv is the environment without a resolver: the literal values
// only.
func literalEnv(c *corev1.Container) []runtime.KeyValue {
	var env []runtime.KeyValue
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			env = append(env, runtime.KeyValue{Key: e.Name, Value: e.Value})
		}
	}
	return env
}
