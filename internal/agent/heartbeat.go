package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// nodeLeaseNamespace holds one Lease per node, named after it.
const nodeLeaseNamespace = corev1.NamespaceNodeLease

// heartbeatState is owned by the heartbeat goroutine (and register,
// which runs before it).
type heartbeatState struct {
	lease      *coordinationv1.Lease
	lastPost   time.Time
	lastPosted *corev1.NodeStatus
	// afterTick, if set (tests), runs after each lease tick.
	afterTick func()
}

// heartbeat renews the Lease every LeaseDuration/4 and computes node
// status every StatusUpdateFrequency, on one timer when the two periods
// agree (kubelet's defaults: both 10 s). The first tick comes after
// HeartbeatOffset, so a thousand sim nodes do not renew in step.
func (a *Agent) heartbeat(ctx context.Context) {
	t := a.cfg.Timing
	renew := t.LeaseDuration / 4
	a.renewLease(ctx)
	leaseTimer := a.clock.NewTimer(t.HeartbeatOffset + renew)
	statusTimer := a.clock.NewTimer(t.HeartbeatOffset + t.StatusUpdateFrequency)
	defer leaseTimer.Stop()
	defer statusTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaseTimer.C():
			if !a.paused.Load() {
				a.renewLease(ctx)
			}
			leaseTimer.Reset(renew)
			if a.hb.afterTick != nil {
				a.hb.afterTick()
			}
		case <-statusTimer.C():
			if !a.paused.Load() {
				a.syncNodeStatus(ctx, false)
			}
			statusTimer.Reset(t.StatusUpdateFrequency)
		}
	}
}

// renewLease creates the node's Lease or renews the one it holds.
func (a *Agent) renewLease(ctx context.Context) {
	now := metav1.NewMicroTime(a.clock.Now())
	if a.hb.lease != nil {
		l := a.hb.lease.DeepCopy()
		a.setLeaseSpec(l, now)
		updated, err := a.client.CoordinationV1().Leases(nodeLeaseNamespace).Update(ctx, l, metav1.UpdateOptions{})
		if err == nil {
			a.hb.lease = updated
			return
		}
		a.log.Debug("renewing lease", "err", err)
		a.hb.lease = nil // fetch it afresh
	}
	leases := a.client.CoordinationV1().Leases(nodeLeaseNamespace)
	l, err := leases.Get(ctx, a.cfg.NodeName, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: a.cfg.NodeName, Namespace: nodeLeaseNamespace}}
		a.setLeaseSpec(l, now)
		l, err = leases.Create(ctx, l, metav1.CreateOptions{})
	case err == nil:
		a.setLeaseSpec(l, now)
		l, err = leases.Update(ctx, l, metav1.UpdateOptions{})
	}
	if err != nil {
		a.log.Warn("renewing lease", "err", err)
		return
	}
	a.hb.lease = l
}

func (a *Agent) setLeaseSpec(l *coordinationv1.Lease, now metav1.MicroTime) {
	l.Spec.HolderIdentity = ptr.To(a.cfg.NodeName)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(a.cfg.Timing.LeaseDuration / time.Second))
	l.Spec.RenewTime = &now
	// The Lease belongs to the Node, so it goes when the Node does.
	if n := a.currentNode(); n != nil && n.UID != "" {
		l.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID,
		}}
	}
}

// syncNodeStatus posts node status if it changed from what the API holds,
// or if StatusReportFrequency passed since the last post (force: always).
func (a *Agent) syncNodeStatus(ctx context.Context, force bool) {
	node := a.currentNode()
	if node == nil {
		return
	}
	want := a.nodeStatus(ctx, &node.Status)
	due := force || a.clock.Since(a.hb.lastPost) >= a.cfg.Timing.StatusReportFrequency
	if !due && !nodeStatusChanged(&node.Status, &want) &&
		(a.hb.lastPosted == nil || !nodeStatusChanged(a.hb.lastPosted, &want)) {
		return
	}
	// A strategic-merge patch of the whole status: conditions merge by
	// type, so the patch needs no resourceVersion and never conflicts
	// with the node controllers writing theirs.
	patch, err := json.Marshal(map[string]any{"status": want})
	if err != nil {
		a.log.Error("encoding node status", "err", err)
		return
	}
	updated, err := a.client.CoreV1().Nodes().Patch(ctx, a.cfg.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		a.log.Warn("posting node status", "err", fmt.Errorf("patch: %w", err))
		return
	}
	a.hb.lastPost = a.clock.Now()
	a.hb.lastPosted = &want
	wasReady := isNodeReady(&node.Status)
	a.setNode(updated)
	if !wasReady {
		a.rec.Eventf(a.nodeRef(), corev1.EventTypeNormal, "NodeReady", "Node %s status is now: NodeReady", a.cfg.NodeName)
	}
}

func isNodeReady(st *corev1.NodeStatus) bool {
	for _, c := range st.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// nodeStatusChanged compares two statuses ignoring heartbeat times (which
// change on every computation).
func nodeStatusChanged(have, want *corev1.NodeStatus) bool {
	strip := func(s *corev1.NodeStatus) *corev1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
			c.Conditions[i].LastTransitionTime = metav1.Time{}
		}
		// Fields others own (volumes, features, runtime handlers).
		c.VolumesInUse, c.VolumesAttached, c.Config, c.Features, c.RuntimeHandlers = nil, nil, nil, nil, nil
		return c
	}
	return !equality.Semantic.DeepEqual(strip(have), strip(want))
}

func (a *Agent) currentNode() *corev1.Node {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.node
}

func (a *Agent) setNode(n *corev1.Node) {
	if n == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Keep the newer of the two: the informer may lag our own writes.
	if a.node != nil && a.node.UID == n.UID && olderRV(n.ResourceVersion, a.node.ResourceVersion) {
		return
	}
	a.node = n
}
