package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func labelsEverything() labels.Selector { return labels.Everything() }

// sync gives node `name` its subnets, records the ones it already has, or
// releases those of a node that is gone.
func (c *Controller) sync(ctx context.Context, name string) error {
	node, err := c.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		c.release(name)
		return nil
	}
	if err != nil {
		return err
	}
	if len(node.Spec.PodCIDRs) > 0 || node.Spec.PodCIDR != "" {
		c.occupy(node)
		return nil
	}
	cidrs, err := c.allocate(name)
	if errors.Is(err, errCIDRRangeFull) {
		recordNodeStatusChange(c.recorder, node, "CIDRNotAvailable")
		c.queue.AddAfter(name, retryFull)
		return nil
	}
	if err != nil {
		return err
	}
	if err := c.patch(ctx, name, cidrs); err != nil {
		if apierrors.IsNotFound(err) {
			c.release(name)
			return nil
		}
		return err
	}
	c.log.Info("allocated pod CIDRs", "node", name, "podCIDRs", cidrs)
	return nil
}

// allocate returns the subnets reserved for node name, taking new ones
// when it has none. A node seen again before the informer delivers our
// patch gets the same subnets, not a second set.
func (c *Controller) allocate(name string) ([]netip.Prefix, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cidrs, ok := c.allocated[name]; ok {
		return cidrs, nil
	}
	cidrs := make([]netip.Prefix, 0, len(c.sets))
	for _, set := range c.sets {
		p, err := set.allocateNext()
		if err != nil {
			for i, got := range cidrs {
				c.sets[i].release(got)
			}
			return nil, err
		}
		cidrs = append(cidrs, p)
	}
	c.allocated[name] = cidrs
	return cidrs, nil
}

// occupy records the subnets node already holds; subnets outside the
// cluster CIDR (set by hand) are left alone, as upstream only logs them.
func (c *Controller) occupy(node *corev1.Node) {
	specs := node.Spec.PodCIDRs
	if len(specs) == 0 && node.Spec.PodCIDR != "" {
		specs = []string{node.Spec.PodCIDR}
	}
	var held []netip.Prefix
	for _, s := range specs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			c.log.Warn("node has an unparsable pod CIDR", "node", node.Name, "podCIDR", s)
			continue
		}
		held = append(held, p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.allocated[node.Name] {
		if !slices.Contains(held, old) {
			c.releaseLocked(old)
		}
	}
	var ours []netip.Prefix
	for _, p := range held {
		occupied := false
		for _, set := range c.sets {
			if set.occupy(p) {
				occupied = true
				break
			}
		}
		if !occupied {
			c.log.Warn("node pod CIDR is outside the cluster CIDR", "node", node.Name, "podCIDR", p)
			continue
		}
		ours = append(ours, p)
	}
	if len(ours) == 0 {
		delete(c.allocated, node.Name)
		return
	}
	c.allocated[node.Name] = ours
}

// release returns a deleted node's subnets to the pool.
func (c *Controller) release(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.allocated[name] {
		c.releaseLocked(p)
	}
	if _, ok := c.allocated[name]; ok {
		c.log.Info("released pod CIDRs", "node", name, "podCIDRs", c.allocated[name])
	}
	delete(c.allocated, name)
}

func (c *Controller) releaseLocked(p netip.Prefix) {
	for _, set := range c.sets {
		set.release(p)
	}
}

// patch sets spec.podCIDR and spec.podCIDRs, as upstream's PatchNodeCIDRs.
func (c *Controller) patch(ctx context.Context, name string, cidrs []netip.Prefix) error {
	strs := make([]string, len(cidrs))
	for i, p := range cidrs {
		strs[i] = p.String()
	}
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"podCIDR": strs[0], "podCIDRs": strs}})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, body, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("patch node %s podCIDRs: %w", name, err)
	}
	return nil
}
