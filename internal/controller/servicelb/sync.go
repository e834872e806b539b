package servicelb

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// sync brings one Service's (key namespace/name) load balancer status
// and announcer in line with the pool and the nodes.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return err
	}
	svc, err := c.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.release(key)
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case ours(svc):
		return c.ensure(ctx, key, svc)
	case svc.Spec.Type == corev1.ServiceTypeLoadBalancer:
		// Another implementation's (loadBalancerClass): its status is
		// not ours to touch.
		c.release(key)
		return nil
	default:
		c.release(key)
		if len(svc.Status.LoadBalancer.Ingress) == 0 && svc.Annotations[NodeAnnotation] == "" {
			return nil
		}
		c.recorder.Event(svc, corev1.EventTypeNormal, "DeletingLoadBalancer", "Deleting load balancer")
		if err := c.write(ctx, svc, nil, ""); err != nil {
			return err
		}
		c.recorder.Event(svc, corev1.EventTypeNormal, "DeletedLoadBalancer", "Deleted load balancer")
		return nil
	}
}

// ensure gives a LoadBalancer Service its ingress and, with a pool, its
// announcing node.
func (c *Controller) ensure(ctx context.Context, key string, svc *corev1.Service) error {
	nodes, err := c.readyNodes()
	if err != nil {
		return err
	}
	var ingress []netip.Addr
	announcer := ""
	if c.pool == nil {
		ingress = internalIPs(nodes)
	} else {
		addr, err := c.allocate(key, svc)
		if err != nil {
			c.recorder.Eventf(svc, corev1.EventTypeWarning, "AllocationFailed", "Failed to allocate IP for %q: %v", key, err)
			c.log.Info("no address for service", "service", key, "err", err)
			// Without an address the Service must not keep showing one;
			// it is synced again when an address is freed.
		} else {
			ingress = []netip.Addr{addr}
			announcer = chooseNode(key, svc.Annotations[NodeAnnotation], nodes)
		}
	}
	want := ingressOf(ingress)
	if ingressEqual(svc.Status.LoadBalancer.Ingress, want) && svc.Annotations[NodeAnnotation] == announcer {
		return nil
	}
	c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuringLoadBalancer", "Ensuring load balancer")
	if err := c.write(ctx, svc, want, announcer); err != nil {
		return err
	}
	c.log.Info("ensured load balancer", "service", key, "ingress", ingress, "node", announcer)
	c.recorder.Event(svc, corev1.EventTypeNormal, "EnsuredLoadBalancer", "Ensured load balancer")
	return nil
}

// allocate returns the pool address of svc: spec.loadBalancerIP when set
// (and valid), else the one it holds, else the one its status already
// shows (set before this controller started), else a free one.
func (c *Controller) allocate(key string, svc *corev1.Service) (netip.Addr, error) {
	var requested netip.Addr
	if s := strings.TrimSpace(svc.Spec.LoadBalancerIP); s != "" {
		var err error
		if requested, err = netip.ParseAddr(s); err != nil {
			c.release(key)
			return netip.Addr{}, fmt.Errorf("%w: loadBalancerIP %q is not an IP", ErrNotInPool, s)
		}
	}
	if !requested.IsValid() {
		c.claimFromStatus(key, svc)
	}
	addr, err := c.pool.allocate(key, requested)
	if err != nil && requested.IsValid() {
		// A Service asking for an address it cannot have gets none, not
		// another one.
		c.release(key)
	}
	return addr, err
}

// claimFromStatus takes back, for a Service holding no address yet, the
// first pool address its status shows, if that is free.
func (c *Controller) claimFromStatus(key string, svc *corev1.Service) {
	if _, ok := c.pool.lookup(key); ok {
		return
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(ing.IP); err == nil && c.pool.claim(key, a) {
			return
		}
	}
}

// release gives key's pool address back and lets a Service waiting for
// one have it.
func (c *Controller) release(key string) {
	if c.pool != nil && c.pool.release(key) {
		c.enqueueLoadBalancers(true)
	}
}

// write sets the announcer annotation ("" removes it) and the status
// ingress of svc, each only when it differs.
func (c *Controller) write(ctx context.Context, svc *corev1.Service, ingress []corev1.LoadBalancerIngress, announcer string) error {
	services := c.client.CoreV1().Services(svc.Namespace)
	if svc.Annotations[NodeAnnotation] != announcer {
		upd := svc.DeepCopy()
		if announcer == "" {
			delete(upd.Annotations, NodeAnnotation)
		} else {
			if upd.Annotations == nil {
				upd.Annotations = map[string]string{}
			}
			upd.Annotations[NodeAnnotation] = announcer
		}
		var err error
		if svc, err = services.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("annotating service %s/%s: %w", upd.Namespace, upd.Name, err)
		}
	}
	if !ingressEqual(svc.Status.LoadBalancer.Ingress, ingress) {
		upd := svc.DeepCopy()
		upd.Status.LoadBalancer = corev1.LoadBalancerStatus{Ingress: ingress}
		if _, err := services.UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating load balancer status of %s/%s: %w", upd.Namespace, upd.Name, err)
		}
	}
	return nil
}

// ingressOf is the status ingress for addrs: plain IPs, ipMode VIP (the
// traffic keeps the address as its destination, and the proxy answers
// on it).
func ingressOf(addrs []netip.Addr) []corev1.LoadBalancerIngress {
	var out []corev1.LoadBalancerIngress
	for _, a := range addrs {
		mode := corev1.LoadBalancerIPModeVIP
		out = append(out, corev1.LoadBalancerIngress{IP: a.String(), IPMode: &mode})
	}
	return out
}

func ingressEqual(a, b []corev1.LoadBalancerIngress) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return apiequality.Semantic.DeepEqual(a, b)
}
