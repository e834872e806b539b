package agent

import (
	"context"
	"fmt"
	"maps"
	goruntime "runtime"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/version"
)

// Node condition reasons and messages, kubelet's words.
const (
	reasonReady            = "KubeletReady"
	messageReady           = "kubelet is posting ready status"
	reasonSufficientMemory = "KubeletHasSufficientMemory"
	messageSufficientMem   = "kubelet has sufficient memory available"
	reasonNoDiskPressure   = "KubeletHasNoDiskPressure"
	messageNoDiskPressure  = "kubelet has no disk pressure"
	reasonSufficientPID    = "KubeletHasSufficientPID"
	messageSufficientPID   = "kubelet has sufficient PID available"
)

// maxImagesInNodeStatus is kubelet's --node-status-max-images default.
const maxImagesInNodeStatus = 50

// nodeLabels are the labels kubelet puts on its Node, plus the
// configured ones.
func (a *Agent) nodeLabels() map[string]string {
	l := map[string]string{
		"kubernetes.io/hostname":  a.cfg.NodeName,
		"kubernetes.io/os":        goruntime.GOOS,
		"kubernetes.io/arch":      goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
	maps.Copy(l, a.cfg.Node.Labels)
	return l
}

// initialNode is the Node the agent creates.
func (a *Agent) initialNode(ctx context.Context) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   a.cfg.NodeName,
			Labels: a.nodeLabels(),
			Annotations: map[string]string{
				"node.alpha.kubernetes.io/ttl":                           "0",
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec: corev1.NodeSpec{Taints: slices.Clone(a.cfg.Node.Taints)},
	}
	n.Status = a.nodeStatus(ctx, nil)
	return n
}

// register creates the Node or, when it exists (the agent restarted),
// makes sure its labels are there; it retries with kubelet's back-off
// (100 ms doubling to 7 s) until it succeeds or ctx ends.
func (a *Agent) register(ctx context.Context) error {
	backoff := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 1 << 30, Cap: 7 * time.Second}
	var lastErr error
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		node, err := a.tryRegister(ctx)
		if err != nil {
			lastErr = err
			a.log.Warn("registering node", "err", err)
			return false, nil
		}
		a.setNode(node)
		return true, nil
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("%w (last error: %w)", err, lastErr)
	}
	if err != nil {
		return err
	}
	a.rec.Eventf(a.nodeRef(), corev1.EventTypeNormal, "Starting", "Starting kubelet.")
	// The first status post: the create may have dropped status, and an
	// existing Node carries the last run's.
	a.syncNodeStatus(ctx, true)
	return nil
}

func (a *Agent) tryRegister(ctx context.Context) (*corev1.Node, error) {
	want := a.initialNode(ctx)
	node, err := a.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
	if err == nil {
		a.log.Info("node registered")
		return node, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create: %w", err)
	}
	node, err = a.client.CoreV1().Nodes().Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	changed := false
	for k, v := range want.Labels {
		if node.Labels[k] != v {
			if node.Labels == nil {
				node.Labels = map[string]string{}
			}
			node.Labels[k], changed = v, true
		}
	}
	if !changed {
		return node, nil
	}
	node, err = a.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("update labels: %w", err)
	}
	return node, nil
}

func (a *Agent) nodeRef() *corev1.ObjectReference {
	// kubelet refers to its node by name, with the name as UID.
	return &corev1.ObjectReference{Kind: "Node", Name: a.cfg.NodeName, UID: types.UID(a.cfg.NodeName)}
}

// nodeStatus computes the status the agent reports. prev is the last
// known status: conditions keep their lastTransitionTime while their
// status does not change.
func (a *Agent) nodeStatus(ctx context.Context, prev *corev1.NodeStatus) corev1.NodeStatus {
	now := metav1.NewTime(a.clock.Now().Truncate(time.Second))
	cfg := a.cfg.Node
	allocatable := cfg.Allocatable
	if allocatable == nil {
		allocatable = cfg.Capacity
	}
	st := corev1.NodeStatus{
		Capacity:    cfg.Capacity.DeepCopy(),
		Allocatable: allocatable.DeepCopy(),
		Conditions: []corev1.NodeCondition{
			{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: reasonSufficientMemory, Message: messageSufficientMem},
			{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: reasonNoDiskPressure, Message: messageNoDiskPressure},
			{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: reasonSufficientPID, Message: messageSufficientPID},
			{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: reasonReady, Message: messageReady},
		},
		Addresses:       a.addresses(),
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: cfg.KubeletPort}},
		NodeInfo:        a.nodeInfo(ctx),
		Images:          a.nodeImages(ctx),
	}
	for i := range st.Conditions {
		c := &st.Conditions[i]
		c.LastHeartbeatTime, c.LastTransitionTime = now, now
		if prev == nil {
			continue
		}
		for _, p := range prev.Conditions {
			if p.Type == c.Type && p.Status == c.Status {
				c.LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return st
}

func (a *Agent) addresses() []corev1.NodeAddress {
	out := slices.Clone(a.cfg.Node.Addresses)
	if !slices.ContainsFunc(out, func(x corev1.NodeAddress) bool { return x.Type == corev1.NodeHostName }) {
		out = append(out, corev1.NodeAddress{Type: corev1.NodeHostName, Address: a.cfg.NodeName})
	}
	return out
}

// hostIPs are the node's InternalIPs (kubelet's node IPs), which pods
// report as hostIP(s).
func (a *Agent) hostIPs() []string {
	var ips []string
	for _, ad := range a.cfg.Node.Addresses {
		if ad.Type == corev1.NodeInternalIP {
			ips = append(ips, ad.Address)
		}
	}
	return ips
}

func (a *Agent) nodeInfo(ctx context.Context) corev1.NodeSystemInfo {
	info := a.cfg.Node.Info
	if info.KubeletVersion == "" {
		info.KubeletVersion = version.Get().GitVersion
	}
	if info.ContainerRuntimeVersion == "" {
		if v, err := a.rt.Version(ctx); err == nil {
			info.ContainerRuntimeVersion = v.RuntimeName + "://" + v.RuntimeVersion
		}
	}
	if info.OperatingSystem == "" {
		info.OperatingSystem = goruntime.GOOS
	}
	if info.Architecture == "" {
		info.Architecture = goruntime.GOARCH
	}
	return info
}

// nodeImages lists the runtime's images as kubelet does: every name an
// image has (digests first), largest images first, at most 50.
func (a *Agent) nodeImages(ctx context.Context) []corev1.ContainerImage {
	imgs, err := a.rt.ListImages(ctx)
	if err != nil || len(imgs) == 0 {
		return nil
	}
	slices.SortStableFunc(imgs, func(x, y *runtime.Image) int {
		switch {
		case x.Size > y.Size:
			return -1
		case x.Size < y.Size:
			return 1
		}
		return 0
	})
	out := make([]corev1.ContainerImage, 0, min(len(imgs), maxImagesInNodeStatus))
	for _, img := range imgs[:min(len(imgs), maxImagesInNodeStatus)] {
		names := append(slices.Clone(img.RepoDigests), img.RepoTags...)
		out = append(out, corev1.ContainerImage{Names: names, SizeBytes: int64(img.Size)})
	}
	return out
}
