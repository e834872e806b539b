package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// leaseNamespace holds the nodes' heartbeat Leases.
const leaseNamespace = corev1.NamespaceNodeLease

// nodeHealth is what the controller last saw of a node's heartbeats. The
// probe timestamp is the controller's time of the last heartbeat change.
type nodeHealth struct {
	probeTimestamp time.Time
	hasReady       bool
	readyStatus    corev1.ConditionStatus
	heartbeat      metav1.Time
	leaseRenew     *metav1.MicroTime
}

// otherConditions are, besides Ready, the conditions the kubelet posts and
// the controller sets to Unknown when it stops.
var otherConditions = []corev1.NodeConditionType{
	corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// monitorNodeHealth is one pass over every node: conditions to Unknown
// when heartbeats stop, NoExecute taints, pods not Ready.
func (c *Controller) monitorNodeHealth(ctx context.Context) error {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	c.forgetDeleted(nodes)
	type result struct {
		node              *corev1.Node
		observed, current corev1.ConditionStatus
	}
	var results []result
	var errs []error
	for _, node := range nodes {
		observed, current, updated, err := c.tryUpdateNodeHealth(ctx, node.DeepCopy())
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", node.Name, err))
			continue
		}
		results = append(results, result{updated, observed, current})
	}
	// No node Ready at all: the control plane is the likely one cut off.
	allDown := len(results) > 0
	for _, r := range results {
		if r.current == corev1.ConditionTrue {
			allDown = false
		}
	}
	c.setMasterDisruption(allDown, nodes)
	for _, r := range results {
		// Taints first: they are what the scheduler and the eviction
		// controller act on.
		if err := c.syncTaints(ctx, r.node, r.current, allDown); err != nil {
			errs = append(errs, err)
		}
		wentDown := r.current != corev1.ConditionTrue && r.observed == corev1.ConditionTrue
		if wentDown {
			// The controller itself saw the node go; the kubelet
			// could not say so.
			recordNodeStatusChange(c.recorder, r.node, "NodeNotReady")
		}
		if wentDown || (r.current != corev1.ConditionTrue && c.takeRetry(r.node.Name)) {
			if err := c.markPodsNotReady(ctx, r.node.Name); err != nil {
				c.setRetry(r.node.Name)
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// setMasterDisruption enters or leaves master disruption mode; on leaving,
// every node gets a fresh grace period, as upstream.
func (c *Controller) setMasterDisruption(allDown bool, nodes []*corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if allDown == c.masterDisruption {
		return
	}
	c.masterDisruption = allDown
	if allDown {
		c.log.Warn("controller detected that all Nodes are not-Ready; entering master disruption mode")
		return
	}
	c.log.Info("controller detected that some Nodes are Ready; exiting master disruption mode")
	now := c.clock.Now()
	for _, n := range nodes {
		if h := c.health[n.Name]; h != nil {
			h.probeTimestamp = now
		}
	}
}

// forgetDeleted drops the health of nodes that no longer exist.
func (c *Controller) forgetDeleted(nodes []*corev1.Node) {
	seen := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		seen[n.Name] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.health {
		if !seen[name] {
			delete(c.health, name)
			c.log.Info("removing node from the controller", "node", name)
			recordNodeEvent(c.recorder, name, corev1.EventTypeNormal, "RemovingNode", fmt.Sprintf("Removing Node %v from Controller", name))
		}
	}
}

// tryUpdateNodeHealth updates the heartbeat record of node and, past the
// grace period, sets its conditions to Unknown. It returns the Ready
// status before and after, and the node as now stored.
func (c *Controller) tryUpdateNodeHealth(ctx context.Context, node *corev1.Node) (observed, current corev1.ConditionStatus, _ *corev1.Node, _ error) {
	now := c.clock.Now()
	ready := condition(node, corev1.NodeReady)
	grace := c.cfg.GracePeriod
	observed = corev1.ConditionUnknown
	if ready != nil {
		observed = ready.Status
	} else {
		grace = startupGracePeriod
	}
	var lease *metav1.MicroTime
	if l, err := c.leases.Leases(leaseNamespace).Get(node.Name); err == nil && l.Spec.RenewTime != nil {
		lease = l.Spec.RenewTime
	}

	c.mu.Lock()
	h := c.health[node.Name]
	switch {
	case h == nil:
		// First sight: the grace period starts now, or at creation for
		// a node that never posted status.
		h = &nodeHealth{probeTimestamp: now}
		if ready == nil {
			h.probeTimestamp = node.CreationTimestamp.Time
		}
		c.health[node.Name] = h
		c.log.Info("registered node", "node", node.Name)
		recordNodeEvent(c.recorder, node.Name, corev1.EventTypeNormal, "RegisteredNode", fmt.Sprintf("Registered Node %v in Controller", node.Name))
	case ready != nil && (!h.hasReady || h.readyStatus != ready.Status || !h.heartbeat.Equal(&ready.LastHeartbeatTime)):
		h.probeTimestamp = now
	}
	if ready != nil {
		h.hasReady, h.readyStatus, h.heartbeat = true, ready.Status, ready.LastHeartbeatTime
	}
	if lease != nil && (h.leaseRenew == nil || h.leaseRenew.Before(lease)) {
		h.leaseRenew = lease
		h.probeTimestamp = now
	}
	lastProbe := h.probeTimestamp
	c.mu.Unlock()
	expired := now.After(lastProbe.Add(grace))

	if !expired {
		return observed, observed, node, nil
	}
	old := node.Status.DeepCopy()
	setUnknown(node, corev1.NodeReady, node.CreationTimestamp, now)
	for _, t := range otherConditions {
		setUnknown(node, t, node.CreationTimestamp, now)
	}
	if apiequality.Semantic.DeepEqual(old, &node.Status) {
		return observed, corev1.ConditionUnknown, node, nil
	}
	c.log.Info("node stopped posting status; conditions set to Unknown", "node", node.Name,
		"lastProbe", lastProbe, "gracePeriod", grace)
	updated, err := c.client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return observed, observed, node, nil
	}
	if err != nil {
		return observed, observed, node, fmt.Errorf("update status: %w", err)
	}
	c.mu.Lock()
	h.hasReady, h.readyStatus = true, corev1.ConditionUnknown
	if r := condition(updated, corev1.NodeReady); r != nil {
		h.heartbeat = r.LastHeartbeatTime
	}
	c.mu.Unlock()
	return observed, corev1.ConditionUnknown, updated, nil
}

// setUnknown sets one condition to Unknown, as upstream: one never posted
// is added with reason NodeStatusNeverUpdated, one posted and not yet
// Unknown keeps its heartbeat and gets reason NodeStatusUnknown.
func setUnknown(node *corev1.Node, t corev1.NodeConditionType, created metav1.Time, now time.Time) {
	cond := condition(node, t)
	if cond == nil {
		node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
			Type:               t,
			Status:             corev1.ConditionUnknown,
			Reason:             "NodeStatusNeverUpdated",
			Message:            "Kubelet never posted node status.",
			LastHeartbeatTime:  created,
			LastTransitionTime: metav1.NewTime(now),
		})
		return
	}
	if cond.Status == corev1.ConditionUnknown {
		return
	}
	cond.Status = corev1.ConditionUnknown
	cond.Reason = "NodeStatusUnknown"
	cond.Message = "Kubelet stopped posting node status."
	cond.LastTransitionTime = metav1.NewTime(now)
}

func condition(node *corev1.Node, t corev1.NodeConditionType) *corev1.NodeCondition {
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == t {
			return &node.Status.Conditions[i]
		}
	}
	return nil
}

func (c *Controller) takeRetry(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	retry := c.podsToRetry[name]
	delete(c.podsToRetry, name)
	return retry
}

func (c *Controller) setRetry(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.podsToRetry[name] = true
}
