package agent

import (
	"context"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/runtime"
)

// podEntry is what the agent knows of one pod besides the runtime's
// state.
type podEntry struct {
	// pod is the latest version from the source; nil once it is gone
	// from the API.
	pod *corev1.Pod
	// lastWritten is the status last patched and base the
	// resourceVersion it was computed from: until the source shows a
	// newer version, the same status is not written again.
	lastWritten *corev1.PodStatus
	base        string
	// startTime is when the agent first saw the pod (status.startTime).
	startTime time.Time
}

// OnPod implements Handler.
func (a *Agent) OnPod(pod *corev1.Pod) {
	if pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	a.mu.Lock()
	e, ok := a.pods[pod.UID]
	if !ok {
		e = &podEntry{}
		a.pods[pod.UID] = e
	}
	if e.pod != nil && olderRV(pod.ResourceVersion, e.pod.ResourceVersion) {
		a.mu.Unlock()
		return
	}
	e.pod = pod
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

// OnPodDelete implements Handler.
func (a *Agent) OnPodDelete(pod *corev1.Pod) {
	a.mu.Lock()
	if e, ok := a.pods[pod.UID]; ok {
		e.pod = nil
	}
	a.mu.Unlock()
	a.queue.Add(pod.UID)
}

// OnNode implements Handler. A newly assigned pod CIDR releases the pods
// that waited for it.
func (a *Agent) OnNode(node *corev1.Node) {
	if node.Name != a.cfg.NodeName {
		return
	}
	a.setNode(node)
	if node.Spec.PodCIDR == "" || a.ipam.hasCIDR() {
		return
	}
	// The runtime's pod network learns its range first (CRI's
	// UpdateRuntimeConfig); until that works no sandbox is made, and the
	// next Node update tries again.
	if u, ok := a.rt.(runtime.PodCIDRUpdater); ok {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := u.UpdatePodCIDR(ctx, node.Spec.PodCIDR)
		cancel()
		if err != nil {
			a.log.Error("pod network", "cidr", node.Spec.PodCIDR, "err", err)
			return
		}
	}
	if err := a.ipam.setCIDR(node.Spec.PodCIDR); err != nil {
		a.log.Error("pod CIDR", "err", err)
		return
	}
	a.log.Info("pod CIDR assigned", "cidr", node.Spec.PodCIDR)
	a.enqueueAll()
}

// OnSynced implements Handler: runtime pods the API does not know are
// queued, so that their worker removes them.
func (a *Agent) OnSynced() {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return
	}
	a.started = true
	a.mu.Unlock()
	sandboxes, err := a.rt.ListPodSandboxes(context.Background(), nil)
	if err != nil {
		a.log.Warn("listing sandboxes", "err", err)
	}
	known := map[types.UID]bool{}
	for _, sb := range sandboxes {
		uid := types.UID(sb.Labels[runtime.LabelPodUID])
		known[uid] = true
		a.queue.Add(uid)
	}
	a.mu.Lock()
	for uid := range a.pods {
		known[uid] = true
	}
	a.mu.Unlock()
	if err == nil { // without the runtime's list, every pod would look gone
		a.sweepLeftovers(known)
	}
	close(a.synced)
}

func (a *Agent) enqueueAll() {
	a.mu.Lock()
	uids := make([]types.UID, 0, len(a.pods))
	for uid := range a.pods {
		uids = append(uids, uid)
	}
	a.mu.Unlock()
	for _, uid := range uids {
		a.queue.Add(uid)
	}
}

// adopt re-reserves the pod IPs of the sandboxes a previous run left.
func (a *Agent) adopt(ctx context.Context) error {
	sandboxes, err := a.rt.ListPodSandboxes(ctx, &runtime.SandboxFilter{State: runtime.SandboxReady})
	if err != nil {
		return err
	}
	for _, sb := range sandboxes {
		uid := types.UID(sb.Labels[runtime.LabelPodUID])
		for _, ip := range sb.IPs {
			a.ipam.reserve(uid, ip)
		}
	}
	return nil
}

func (a *Agent) worker(ctx context.Context) {
	for {
		uid, shutdown := a.queue.Get()
		if shutdown {
			return
		}
		after, err := a.syncPod(ctx, uid)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("syncing pod", "uid", uid, "err", err)
			a.queue.AddRateLimited(uid)
		case after > 0:
			a.queue.Forget(uid)
			a.queue.AddAfter(uid, after)
		default:
			a.queue.Forget(uid)
		}
		a.queue.Done(uid)
	}
}

// entry returns a snapshot of the pod's entry (nil: unknown).
func (a *Agent) entry(uid types.UID) (pod *corev1.Pod, known bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e, ok := a.pods[uid]
	if !ok {
		return nil, false
	}
	return e.pod, true
}

// forget drops a pod the agent is done with.
func (a *Agent) forget(uid types.UID) {
	a.mu.Lock()
	if e, ok := a.pods[uid]; ok && e.pod == nil {
		delete(a.pods, uid)
	}
	a.mu.Unlock()
	a.ipam.release(uid)
	a.backOff.forget(string(uid) + "/")
}

// olderRV reports whether resourceVersion x is older than y. Our store's
// (like etcd's) are increasing integers; anything else is not compared.
func olderRV(x, y string) bool {
	xi, err1 := strconv.ParseUint(x, 10, 64)
	yi, err2 := strconv.ParseUint(y, 10, 64)
	return err1 == nil && err2 == nil && xi < yi
}
