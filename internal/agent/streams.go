package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/agent/endpoint"
	"mini.dev/mini/internal/runtime"
)

// Pods answers the node endpoint's questions (logs, exec, attach,
// port-forward): which runtime container or sandbox a pod's container
// is, in kubelet's words when it is not there.
func (a *Agent) Pods() endpoint.Pods { return streamPods{a} }

type streamPods struct{ a *Agent }

func (p streamPods) pod(namespace, name string) (*corev1.Pod, error) {
	p.a.mu.Lock()
	defer p.a.mu.Unlock()
	for _, e := range p.a.pods {
		if e.pod != nil && e.pod.Namespace == namespace && e.pod.Name == name {
			return e.pod, nil
		}
	}
	return nil, notFound(fmt.Sprintf("pod %q cannot be found - no logs available", namespace+"/"+name))
}

func (p streamPods) Container(namespace, name, container string, previous bool) (endpoint.ContainerRef, error) {
	pod, err := p.pod(namespace, name)
	if err != nil {
		return endpoint.ContainerRef{}, err
	}
	pr, err := p.a.inspect(context.Background(), pod.UID)
	if err != nil {
		return endpoint.ContainerRef{}, err
	}
	insts := pr.byName[container]
	idx := 0
	if previous {
		idx = 1
	}
	if len(insts) <= idx {
		if previous {
			return endpoint.ContainerRef{}, notFound(fmt.Sprintf("previous terminated container %q in pod %q not found", container, name))
		}
		return endpoint.ContainerRef{}, notFound(fmt.Sprintf("container %q in pod %q is not available", container, name))
	}
	c := insts[idx]
	return endpoint.ContainerRef{
		ID:           c.ID,
		LogPath:      c.LogPath,
		Running:      c.State == runtime.ContainerRunning,
		PodUID:       string(pod.UID),
		StillRunning: func(ctx context.Context) bool { return p.running(ctx, c.ID) },
	}, nil
}

// running is one runtime status call for one container, not the pod's
// full inspect: kubectl logs -f asks it at each end of the log.
func (p streamPods) running(ctx context.Context, containerID string) bool {
	st, err := p.a.rt.ContainerStatus(ctx, containerID)
	return err == nil && st.State == runtime.ContainerRunning
}

func (p streamPods) Sandbox(namespace, name string) (string, error) {
	pod, err := p.pod(namespace, name)
	if err != nil {
		return "", err
	}
	pr, err := p.a.inspect(context.Background(), pod.UID)
	if err != nil {
		return "", err
	}
	sb := pr.readySandbox()
	if sb == nil {
		return "", fmt.Errorf("pod %q has no running sandbox", name)
	}
	return sb.ID, nil
}

// notFound is an error the endpoint answers with 404, in kubelet's words.
type notFound string

func (e notFound) Error() string { return string(e) }
func (e notFound) Unwrap() error { return endpoint.ErrNotFound }
