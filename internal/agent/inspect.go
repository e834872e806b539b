package agent

import (
	"context"
	"fmt"
	corev1 "k8s.io/api/core/v1"
	"slices"

	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/runtime"
)

// podRuntime is the runtime's view of one pod: the agent's only record
// of what it started (kubelet's kubecontainer.PodStatus).
type podRuntime struct {
	// sandboxes, newest first.
	sandboxes []*runtime.PodSandbox
	// byName holds each container name's instances, newest first.
	byName map[string][]*runtime.ContainerStatus
}

func (a *Agent) inspect(ctx context.Context, uid types.UID) (*podRuntime, error) {
	sel := map[string]string{runtime.LabelPodUID: string(uid)}
	sbs, err := a.rt.ListPodSandboxes(ctx, &runtime.SandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	slices.SortFunc(sbs, func(x, y *runtime.PodSandbox) int {
		if x.Attempt != y.Attempt {
			return int(y.Attempt) - int(x.Attempt)
		}
		return y.CreatedAt.Compare(x.CreatedAt)
	})
	cs, err := a.rt.ListContainers(ctx, &runtime.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	pr := &podRuntime{sandboxes: sbs, byName: map[string][]*runtime.ContainerStatus{}}
	for _, c := range cs {
		st, err := a.rt.ContainerStatus(ctx, c.ID)
		if err != nil {
			continue // removed meanwhile
		}
		pr.byName[st.Name] = append(pr.byName[st.Name], st)
	}
	for _, insts := range pr.byName {
		slices.SortFunc(insts, func(x, y *runtime.ContainerStatus) int {
			if x.Attempt != y.Attempt {
				return int(y.Attempt) - int(x.Attempt)
			}
			return y.CreatedAt.Compare(x.CreatedAt)
		})
	}
	return pr, nil
}

// readySandbox is the newest sandbox if it is ready.
func (pr *podRuntime) readySandbox() *runtime.PodSandbox {
	if len(pr.sandboxes) > 0 && pr.sandboxes[0].State == runtime.SandboxReady {
		return pr.sandboxes[0]
	}
	return nil
}

// latest is the newest instance of a container, nil if it never ran.
func (pr *podRuntime) latest(name string) *runtime.ContainerStatus {
	if insts := pr.byName[name]; len(insts) > 0 {
		return insts[0]
	}
	return nil
}

// nextAttempt is the attempt number of the container's next instance.
func (pr *podRuntime) nextAttempt(name string) uint32 {
	if l := pr.latest(name); l != nil {
		return l.Attempt + 1
	}
	return 0
}

func (pr *podRuntime) empty() bool { return len(pr.sandboxes) == 0 && len(pr.byName) == 0 }

// needsStart reports whether some container of the pod has no instance
// in sandbox sb yet: the sync will create one (a restart of an exited one
// goes through the same slot only once its back-off let it be created).
func (p *podRuntime) needsStart(pod *corev1.Pod, sb *runtime.PodSandbox) bool {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			l := p.latest(c.Name)
			if l == nil || l.SandboxID != sb.ID {
				return true
			}
		}
	}
	return false
}
