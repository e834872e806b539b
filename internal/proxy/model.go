package proxy

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
)

// servicePort is one port of a Service with the endpoints behind it: the
// unit that gets its own chains.
type servicePort struct {
	base        string // NS/NAME/PROTO/PORTNAME, the chains' common name
	proto       uint8
	port        uint16
	nodePort    uint16
	clusterIP   netip.Addr
	externalIPs []netip.Addr // spec.externalIPs and status.loadBalancer.ingress
	affinity    time.Duration
	// Local traffic policies: internal (ClusterIP), external (the rest).
	internalLocal, externalLocal bool
	endpoints                    []endpoint
}

type endpoint struct {
	ip                          netip.Addr
	port                        uint16
	ready, serving, terminating bool
	local                       bool
}

// skipService says whether the proxy programs nothing for svc: node-local
// Services (the DNS address every node answers itself), ExternalName and
// headless Services, and Services without an IPv4 cluster IP.
func skipService(svc *v1.Service) bool {
	if svc.Labels[NodeLocalLabel] == "true" || svc.Spec.Type == v1.ServiceTypeExternalName {
		return true
	}
	return !clusterIPv4(svc).IsValid()
}

func clusterIPv4(svc *v1.Service) netip.Addr {
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() {
			return ip
		}
	}
	return netip.Addr{}
}

func protoNumber(p v1.Protocol) (uint8, bool) {
	switch p {
	case v1.ProtocolTCP, "":
		return unix.IPPROTO_TCP, true
	case v1.ProtocolUDP:
		return unix.IPPROTO_UDP, true
	case v1.ProtocolSCTP:
		return unix.IPPROTO_SCTP, true
	}
	return 0, false
}

// externalIPs lists the IPv4 externalIPs and LoadBalancer ingress IPs, once each.
func externalIPs(svc *v1.Service) []netip.Addr {
	var out []netip.Addr
	add := func(s string) {
		if ip, err := netip.ParseAddr(s); err == nil && ip.Is4() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	for _, s := range svc.Spec.ExternalIPs {
		add(s)
	}
	if svc.Spec.Type == v1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			add(ing.IP)
		}
	}
	return out
}

// lbAddresses are the LoadBalancer addresses this node must answer ARP for.
func lbAddresses(svc *v1.Service, nodeName string) []netip.Addr {
	if svc.Spec.Type != v1.ServiceTypeLoadBalancer || svc.Annotations[LBNodeAnnotation] != nodeName {
		return nil
	}
	var out []netip.Addr
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ip, err := netip.ParseAddr(ing.IP); err == nil && ip.Is4() && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}

// servicePorts turns a Service and its EndpointSlices into ports with endpoints.
func servicePorts(svc *v1.Service, slices_ []*discovery.EndpointSlice, nodeName string) []servicePort {
	clusterIP := clusterIPv4(svc)
	ext := externalIPs(svc)
	var affinity time.Duration
	if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
		secs := int32(v1.DefaultClientIPServiceAffinitySeconds)
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			secs = *c.ClientIP.TimeoutSeconds
		}
		affinity = time.Duration(secs) * time.Second
	}
	internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == v1.ServiceInternalTrafficPolicyLocal
	externalLocal := svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal &&
		(svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer)

	out := make([]servicePort, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		proto, ok := protoNumber(p.Protocol)
		if !ok || p.Port <= 0 {
			continue
		}
		sp := servicePort{
			base:          svc.Namespace + "/" + svc.Name + "/" + protoName(proto) + "/" + p.Name,
			proto:         proto,
			port:          uint16(p.Port),
			clusterIP:     clusterIP,
			externalIPs:   ext,
			affinity:      affinity,
			internalLocal: internalLocal,
			externalLocal: externalLocal,
		}
		if svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer {
			sp.nodePort = uint16(p.NodePort)
		}
		sp.endpoints = sliceEndpoints(slices_, p.Name, p.Protocol, nodeName)
		out = append(out, sp)
	}
	return out
}

// sliceEndpoints collects the IPv4 endpoints of the slices for the port
// named portName, one per address and port, sorted.
func sliceEndpoints(slices_ []*discovery.EndpointSlice, portName string, proto v1.Protocol, nodeName string) []endpoint {
	if proto == "" {
		proto = v1.ProtocolTCP
	}
	var out []endpoint
	for _, s := range slices_ {
		if s.AddressType != discovery.AddressTypeIPv4 {
			continue
		}
		var port uint16
		for _, sp := range s.Ports {
			name, pr := "", v1.ProtocolTCP
			if sp.Name != nil {
				name = *sp.Name
			}
			if sp.Protocol != nil {
				pr = *sp.Protocol
			}
			if name == portName && pr == proto && sp.Port != nil && *sp.Port > 0 {
				port = uint16(*sp.Port)
				break
			}
		}
		if port == 0 {
			continue
		}
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 {
				continue
			}
			ip, err := netip.ParseAddr(e.Addresses[0])
			if err != nil || !ip.Is4() {
				continue
			}
			// Unset conditions mean ready and serving, not terminating,
			// as the EndpointSlice API documents.
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			out = append(out, endpoint{
				ip: ip, port: port,
				ready: ready, serving: serving, terminating: terminating,
				local: e.NodeName != nil && *e.NodeName == nodeName,
			})
		}
	}
	slices.SortFunc(out, func(a, b endpoint) int {
		if c := a.ip.Compare(b.ip); c != 0 {
			return c
		}
		return int(a.port) - int(b.port)
	})
	// The same address may be in two slices while a pod moves between
	// them; keep one, preferring the ready one.
	n := 0
	for i, e := range out {
		if n > 0 && out[n-1].ip == e.ip && out[n-1].port == e.port {
			if e.ready && !out[n-1].ready {
				out[n-1] = e
			}
			continue
		}
		out[n] = out[i]
		n++
	}
	return out[:n]
}

// usable picks the endpoints traffic may go to, as upstream does: the ready
// ones; if none is ready, those still serving while terminating, so that
// connections drain rather than fail during a rollout.
func usable(eps []endpoint, localOnly bool) []endpoint {
	var ready, draining []endpoint
	for _, e := range eps {
		if localOnly && !e.local {
			continue
		}
		switch {
		case e.ready:
			ready = append(ready, e)
		case e.serving && e.terminating:
			draining = append(draining, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return draining
}

func endpointString(e endpoint) string {
	return e.ip.String() + "/" + strconv.Itoa(int(e.port))
}
