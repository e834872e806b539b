package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/agent/prober"
	"mini.dev/mini/internal/runtime"
)

// minStopGrace is what a container keeps for SIGTERM after a preStop hook
// used up its grace period (kubelet's minimumGracePeriodInSeconds).
const minStopGrace = 2 * time.Second

// specContainer finds a container of the pod's spec by name (init
// containers included); a name the spec lacks gets a bare container.
func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return &corev1.Container{Name: name}
}

// logDirectory is where the pod's container logs go, as kubelet's
// /var/log/pods/<namespace>_<name>_<uid>.
func (a *Agent) logDirectory(pod *corev1.Pod) string {
	if a.cfg.RootDir == "" {
		return ""
	}
	return filepath.Join(a.cfg.RootDir, "logs", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// podMounts prepares the pod's volumes and /etc files and returns each
// container's mounts. A failure is kubelet's FailedMount: the pod stays
// ContainerCreating and is retried.
func (a *Agent) podMounts(ctx context.Context, pod *corev1.Pod, sb *runtime.PodSandbox) (map[string][]runtime.Mount, error) {
	if a.cfg.Volumes == nil {
		return nil, nil
	}
	byContainer, err := a.cfg.Volumes.SetUp(ctx, pod)
	if err != nil {
		a.rec.Event(pod, corev1.EventTypeWarning, "FailedMount", err.Error())
		return nil, fmt.Errorf("volumes: %w", err)
	}
	etc, err := a.cfg.Volumes.EtcFiles(pod, sb.IPs)
	if err != nil {
		return nil, fmt.Errorf("pod /etc files: %w", err)
	}
	out := make(map[string][]runtime.Mount, len(pod.Spec.Containers)+len(pod.Spec.InitContainers))
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			// The pod's own mounts of /etc files win over the managed ones
			// (kubelet skips /etc/hosts when a volume mounts there).
			own := map[string]bool{}
			for _, m := range byContainer[c.Name] {
				own[m.ContainerPath] = true
			}
			ms := append([]runtime.Mount(nil), byContainer[c.Name]...)
			for _, m := range etc {
				if !own[m.ContainerPath] {
					ms = append(ms, m)
				}
			}
			out[c.Name] = ms
		}
	}
	return out, nil
}

// syncProbes tells the prober which containers run now.
func (a *Agent) syncProbes(pod *corev1.Pod, pr *podRuntime, sb *runtime.PodSandbox) {
	if a.cfg.Prober == nil {
		return
	}
	running := map[string]prober.Running{}
	for name, insts := range pr.byName {
		if len(insts) > 0 && insts[0].State == runtime.ContainerRunning && insts[0].SandboxID == sb.ID {
			running[name] = prober.Running{ContainerID: insts[0].ID, StartedAt: insts[0].StartedAt}
		}
	}
	a.cfg.Prober.Sync(pod, running)
}

// killIfUnhealthy stops a container whose liveness (or startup) probe
// failed; the next sync restarts it as its restart policy says.
func (a *Agent) killIfUnhealthy(ctx context.Context, pod *corev1.Pod, c *corev1.Container, cur *runtime.ContainerStatus) error {
	if a.cfg.Prober == nil {
		return nil
	}
	failed, msg := a.cfg.Prober.Liveness(pod.UID, cur.ID)
	if !failed {
		return nil
	}
	if shouldRestart(pod.Spec.RestartPolicy, 1) {
		msg += ", will be restarted"
	}
	a.rec.Event(containerRef(pod, c), corev1.EventTypeNormal, "Killing", msg)
	grace := a.cfg.Prober.KillGracePeriod(pod, cur.ID)
	grace = a.preStop(ctx, pod, c, cur.ID, grace)
	if err := a.rt.StopContainer(ctx, cur.ID, grace); err != nil {
		return fmt.Errorf("stop unhealthy %s: %w", c.Name, err)
	}
	return nil
}

// postStart runs the container's postStart hook; a failure kills the
// container, as kubelet does (FailedPostStartHook).
func (a *Agent) postStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) error {
	if a.cfg.Prober == nil || c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return nil
	}
	msg, err := a.cfg.Prober.RunHook(ctx, pod, c, id, c.Lifecycle.PostStart)
	if err == nil {
		return nil
	}
	// kubelet keeps the hook's output out of the event: it may hold
	// secrets.
	ref := containerRef(pod, c)
	a.log.Warn("postStart hook failed", "pod", formatPod(pod), "container", c.Name, "message", msg, "err", err)
	a.rec.Event(ref, corev1.EventTypeWarning, prober.ReasonFailedPostStartHook, prober.MessagePostStartHookFailed)
	a.rec.Event(ref, corev1.EventTypeNormal, "Killing", "FailedPostStartHook")
	if serr := a.rt.StopContainer(ctx, id, gracePeriod(pod)); serr != nil {
		return fmt.Errorf("stop %s after its postStart hook failed: %w", c.Name, serr)
	}
	return fmt.Errorf("postStart hook of %s: %w", c.Name, err)
}

// preStop runs the container's preStop hook within the grace period and
// returns the grace left for SIGTERM (at least minStopGrace).
func (a *Agent) preStop(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string, grace time.Duration) time.Duration {
	if a.cfg.Prober == nil || c.Lifecycle == nil || c.Lifecycle.PreStop == nil || grace <= 0 {
		return grace
	}
	began := a.clock.Now()
	hctx, cancel := context.WithTimeout(ctx, grace)
	defer cancel()
	if msg, err := a.cfg.Prober.RunHook(hctx, pod, c, id, c.Lifecycle.PreStop); err != nil {
		a.rec.Eventf(containerRef(pod, c), corev1.EventTypeWarning, prober.ReasonFailedPreStopHook, "%s", firstNonEmpty(msg, err.Error()))
	}
	return max(grace-a.clock.Since(began), minStopGrace)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// releasePod drops what the agent keeps for a pod that will not run
// again: its probe workers and volumes. With removeLogs (the pod is gone
// from the API) its logs go too; a finished pod keeps them for `kubectl
// logs`. An error leaves the pod queued, so that it is tried again.
func (a *Agent) releasePod(uid types.UID, pr *podRuntime, removeLogs bool) error {
	if a.cfg.Prober != nil {
		a.cfg.Prober.Remove(uid)
	}
	if a.cfg.Volumes != nil {
		if err := a.cfg.Volumes.TearDown(uid); err != nil {
			return fmt.Errorf("removing volumes: %w", err)
		}
	}
	if !removeLogs || a.cfg.RootDir == "" {
		return nil
	}
	dirs, err := filepath.Glob(filepath.Join(a.cfg.RootDir, "logs", "*_*_"+string(uid)))
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing logs: %w", err)
		}
	}
	return nil
}

// sweepLeftovers queues the pods whose volumes or logs are on disk but
// which neither the API nor the runtime knows: an agent that stopped
// between removing a pod's containers and its files left them.
func (a *Agent) sweepLeftovers(known map[types.UID]bool) {
	if a.cfg.RootDir == "" {
		return
	}
	var uids []types.UID
	if a.cfg.Volumes != nil {
		if onDisk, err := a.cfg.Volumes.PodUIDs(); err == nil {
			uids = append(uids, onDisk...)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(a.cfg.RootDir, "logs", "*_*_*"))
	for _, dir := range dirs {
		name := filepath.Base(dir)
		uids = append(uids, types.UID(name[strings.LastIndex(name, "_")+1:]))
	}
	for _, uid := range uids {
		if !known[uid] {
			known[uid] = true
			a.queue.Add(uid)
		}
	}
}
