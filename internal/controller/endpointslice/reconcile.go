package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"mini.dev/mini/internal/controller/endpointslice/endpointutil"
)

// errNodeNotFound: a pod names a node the cache does not know (yet); the
// service is synced again later.
var errNodeNotFound = errors.New("node not found")

// plan is what one reconcile writes.
type plan struct {
	create, update, remove []*discoveryv1.EndpointSlice
}

// reconcile makes the slices of svc match pods. existing are the slices
// of svc managed by this controller, from the cache.
func (c *Controller) reconcile(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, triggerTime time.Time) error {
	types := serviceAddressTypes(svc)
	byType := map[discoveryv1.AddressType][]*discoveryv1.EndpointSlice{}
	var p plan
	for _, s := range existing {
		if !types.Has(s.AddressType) {
			// A family the service no longer has.
			p.remove = append(p.remove, s)
			continue
		}
		byType[s.AddressType] = append(byType[s.AddressType], s)
	}
	var errs []error
	for _, t := range sets.List(types) {
		tp, err := c.planAddressType(svc, pods, byType[t], t)
		if err != nil {
			// A missing node: write what can be written, retry later.
			errs = append(errs, err)
		}
		if tp == nil {
			continue
		}
		tp.reuseDeletedNames(svc)
		p.create = append(p.create, tp.create...)
		p.update = append(p.update, tp.update...)
		p.remove = append(p.remove, tp.remove...)
	}
	if err := c.apply(ctx, svc, p, triggerTime); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// planAddressType plans the slices of one family: the desired endpoints
// are grouped by port set, each group reconciled against the existing
// slices of the same ports; a service with no endpoints keeps one empty
// placeholder slice, as upstream.
func (c *Controller) planAddressType(svc *corev1.Service, pods []*corev1.Pod, existing []*discoveryv1.EndpointSlice, addressType discoveryv1.AddressType) (*plan, error) {
	var p plan
	existingByPorts := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		if ownedBy(s, svc) {
			k := portsKey(s.Ports)
			existingByPorts[k] = append(existingByPorts[k], s)
		} else {
			// Left by an earlier service of the same name.
			p.remove = append(p.remove, s)
		}
	}

	desired := map[string]endpointSet{}
	desiredPorts := map[string][]discoveryv1.EndpointPort{}
	var errs []error
	for _, pod := range pods {
		if !endpointutil.ShouldPodBeInEndpoints(pod, true) {
			continue
		}
		ports := endpointPorts(svc, pod)
		node, err := c.nodes.Get(pod.Spec.NodeName)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return nil, err
			}
			// Without the node the endpoint would lack its zone; upstream
			// leaves the pod out and retries, unless the user asked for
			// every address to be published.
			if !svc.Spec.PublishNotReadyAddresses {
				errs = append(errs, fmt.Errorf("skipping pod %s for service %s/%s: %w", pod.Name, svc.Namespace, svc.Name, errNodeNotFound))
				continue
			}
			node = nil
		}
		ep := podEndpoint(pod, node, svc, addressType)
		if len(ep.Addresses) == 0 {
			continue
		}
		k := portsKey(ports)
		if desired[k] == nil {
			desired[k] = endpointSet{}
			desiredPorts[k] = ports
		}
		desired[k].insert(&ep)
	}

	for _, k := range slices.Sorted(maps.Keys(desired)) {
		c.planPorts(svc, existingByPorts[k], desired[k], desiredPorts[k], addressType, &p)
	}
	for k, ss := range existingByPorts {
		if _, ok := desired[k]; !ok {
			p.remove = append(p.remove, ss...)
		}
	}

	// No endpoints at all: keep (or make) one empty slice, so that a
	// reader tells "no endpoints" from "not handled".
	if len(existing) == len(p.remove) && len(p.create) == 0 {
		placeholder := newSlice(svc, []discoveryv1.EndpointPort{}, addressType)
		if len(p.remove) == 1 && isPlaceholder(p.remove[0], placeholder) {
			p.remove = nil
		} else {
			p.create = append(p.create, placeholder)
		}
	}
	return &p, errors.Join(errs...)
}

// isPlaceholder reports whether s already is the placeholder want.
func isPlaceholder(s, want *discoveryv1.EndpointSlice) bool {
	return len(s.Endpoints) == 0 && len(s.Ports) == 0 && s.AddressType == want.AddressType &&
		equality.Semantic.DeepEqual(s.Labels, want.Labels) &&
		equality.Semantic.DeepEqual(s.OwnerReferences, want.OwnerReferences)
}

// planPorts reconciles the slices of one port set with its desired
// endpoints, touching as few slices as it can:
//  1. every existing slice keeps the desired endpoints it holds (updated
//     in place when they changed) and loses the rest; one left empty is
//     deleted;
//  2. slices that must be written anyway are filled up with new
//     endpoints, fullest first;
//  3. what remains goes into the unchanged slice it fits best, or new
//     slices.
func (c *Controller) planPorts(svc *corev1.Service, existing []*discoveryv1.EndpointSlice, want endpointSet,
	ports []discoveryv1.EndpointPort, addressType discoveryv1.AddressType, p *plan) {
	labels := sliceLabels(svc)
	var unchanged, toUpdate []*discoveryv1.EndpointSlice
	for _, s := range existing {
		var keep []discoveryv1.Endpoint
		changed := false
		for i := range s.Endpoints {
			ep := &s.Endpoints[i]
			k := endpointKey(ep)
			got, ok := want[k]
			if !ok {
				continue
			}
			keep = append(keep, *got)
			if !endpointsEqualBeyondKey(got, ep) {
				changed = true
			}
			delete(want, k)
		}
		labelsChanged := !equality.Semantic.DeepEqual(s.Labels, labels)
		switch {
		case len(keep) == 0:
			p.remove = append(p.remove, s)
		case changed || len(keep) != len(s.Endpoints) || labelsChanged:
			s = s.DeepCopy()
			s.Endpoints = keep
			s.Labels = labels
			toUpdate = append(toUpdate, s)
		default:
			unchanged = append(unchanged, s)
		}
	}

	max := c.maxEndpointsPerSlice
	slices.SortFunc(toUpdate, compareByLen)
	for _, s := range toUpdate {
		if len(want) == 0 {
			break
		}
		s.Endpoints = append(s.Endpoints, want.popSorted(max-len(s.Endpoints))...)
	}

	for len(want) > 0 {
		var fill *discoveryv1.EndpointSlice
		if len(want) < max {
			if i := bestFit(unchanged, len(want), max); i >= 0 {
				fill = unchanged[i].DeepCopy()
				unchanged = slices.Delete(unchanged, i, i+1)
				toUpdate = append(toUpdate, fill)
			}
		}
		if fill == nil {
			fill = newSlice(svc, ports, addressType)
			p.create = append(p.create, fill)
		}
		fill.Endpoints = append(fill.Endpoints, want.popSorted(max-len(fill.Endpoints))...)
	}
	p.update = append(p.update, toUpdate...)
}

// bestFit returns the index of the slice that n more endpoints fill most
// closely without overflowing, or -1.
func bestFit(ss []*discoveryv1.EndpointSlice, n, max int) int {
	best, bestDiff := -1, max
	for i, s := range ss {
		diff := max - (n + len(s.Endpoints))
		if diff >= 0 && diff < bestDiff {
			best, bestDiff = i, diff
			if diff == 0 {
				break
			}
		}
	}
	return best
}

// reuseDeletedNames turns a create plus a delete into one update of the
// slice that would be deleted (same service, same family), which saves a
// write and keeps names stable.
func (p *plan) reuseDeletedNames(svc *corev1.Service) {
	for i := 0; i < len(p.remove) && len(p.create) > 0; {
		old := p.remove[i]
		s := p.create[len(p.create)-1]
		if old.AddressType != s.AddressType || !ownedBy(old, svc) {
			i++
			continue
		}
		s.Name = old.Name
		s.ResourceVersion = old.ResourceVersion
		s.UID = old.UID
		p.create = p.create[:len(p.create)-1]
		p.update = append(p.update, s)
		p.remove = slices.Delete(p.remove, i, i+1)
	}
}

// apply writes the plan. No slice is created for a service being deleted:
// the garbage collector is removing its slices.
func (c *Controller) apply(ctx context.Context, svc *corev1.Service, p plan, triggerTime time.Time) error {
	client := c.client.DiscoveryV1().EndpointSlices(svc.Namespace)
	if svc.DeletionTimestamp == nil {
		for _, s := range p.create {
			setTriggerTime(s, triggerTime)
			created, err := client.Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return nil
				}
				return fmt.Errorf("failed to create EndpointSlice for Service %s/%s: %w", svc.Namespace, svc.Name, err)
			}
			c.tracker.update(created)
		}
	}
	for _, s := range p.update {
		setTriggerTime(s, triggerTime)
		updated, err := client.Update(ctx, s, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("failed to update %s EndpointSlice for Service %s/%s: %w", s.Name, svc.Namespace, svc.Name, err)
		}
		c.tracker.update(updated)
	}
	for _, s := range p.remove {
		err := client.Delete(ctx, s.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("failed to delete %s EndpointSlice for Service %s/%s: %w", s.Name, svc.Namespace, svc.Name, err)
		}
		c.tracker.expectDeletion(s)
	}
	return nil
}

// setTriggerTime sets (or, with no new trigger, clears) the
// last-change-trigger-time annotation on a slice about to be written.
func setTriggerTime(s *discoveryv1.EndpointSlice, t time.Time) {
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if t.IsZero() {
		delete(s.Annotations, corev1.EndpointsLastChangeTriggerTime)
		return
	}
	s.Annotations[corev1.EndpointsLastChangeTriggerTime] = t.UTC().Format(time.RFC3339Nano)
}
