package dns

import (
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

// The names a Service defines, as the Kubernetes DNS specification and
// CoreDNS's kubernetes plugin have them (base = svc.ns.svc.<zone>):
//
//   - base: the cluster IPs (A/AAAA); for a headless Service the addresses
//     of its endpoints; for an ExternalName Service a CNAME. SRV at base
//     lists every port: target base for a cluster IP, each endpoint's name
//     for a headless Service.
//   - _port._proto.base for each named port: SRV as above for that port.
//   - host.base for each endpoint, of any Service with a selector: the
//     endpoint's addresses, host being its hostname (StatefulSet pods with
//     a subdomain) or its address with dashes (10-42-0-5).
//   - PTR: a cluster IP to base, an endpoint address to host.base.

// endpoint is one address of a ready (or published) endpoint.
type endpoint struct {
	host  string
	addr  netip.Addr
	ports []discoveryv1.EndpointPort
}

// buildService computes the records of svc (nil: none) and its slices.
func buildService(svc *corev1.Service, slices map[string]*discoveryv1.EndpointSlice, zone string) built {
	b := built{names: map[string]*rrset{}}
	if svc == nil {
		return b
	}
	base := svc.Name + "." + svc.Namespace + ".svc." + zone
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		target := strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))
		// An address is no CNAME target; CoreDNS leaves such a Service out.
		if _, ok := dns.IsDomainName(target); ok && target != "." && !isAddr(svc.Spec.ExternalName) {
			b.names[base] = &rrset{cname: target}
		}
		return b
	}
	eps := endpoints(svc, slices)
	for _, ep := range eps {
		name := ep.host + "." + base
		rr := b.rrset(name)
		rr.addrs = appendAddr(rr.addrs, ep.addr)
		for _, p := range ep.ports {
			if p.Port != nil {
				rr.srv = appendSRV(rr.srv, name, uint16(*p.Port), ep.addr)
			}
		}
		b.epPTR = append(b.epPTR, ptrRef{ep.addr, name})
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		rr := b.rrset(base)
		for _, ep := range eps {
			rr.addrs = appendAddr(rr.addrs, ep.addr)
			for _, p := range ep.ports {
				if p.Port == nil {
					continue
				}
				target := ep.host + "." + base
				rr.srv = appendSRV(rr.srv, target, uint16(*p.Port), ep.addr)
				if name := portName(ptr.Deref(p.Name, ""), p.Protocol, base); name != "" {
					named := b.rrset(name)
					named.addrs = appendAddr(named.addrs, ep.addr)
					named.srv = appendSRV(named.srv, target, uint16(*p.Port), ep.addr)
				}
			}
		}
		return b
	}
	var ips []netip.Addr
	for _, s := range clusterIPs(svc) {
		if ip, err := netip.ParseAddr(s); err == nil {
			ips = appendAddr(ips, ip)
			b.svcPTR = append(b.svcPTR, ptrRef{ip, base})
		}
	}
	rr := b.rrset(base)
	rr.addrs = ips
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		for _, ip := range ips {
			rr.srv = appendSRV(rr.srv, base, uint16(p.Port), ip)
			if name := portName(p.Name, &proto, base); name != "" {
				named := b.rrset(name)
				named.addrs = appendAddr(named.addrs, ip)
				named.srv = appendSRV(named.srv, base, uint16(p.Port), ip)
			}
		}
	}
	return b
}

func (b built) rrset(name string) *rrset {
	rr := b.names[name]
	if rr == nil {
		rr = &rrset{}
		b.names[name] = rr
	}
	return rr
}

func clusterIPs(svc *corev1.Service) []string {
	if len(svc.Spec.ClusterIPs) > 0 {
		return svc.Spec.ClusterIPs
	}
	if svc.Spec.ClusterIP != "" {
		return []string{svc.Spec.ClusterIP}
	}
	return nil
}

// endpoints lists the addresses of svc's endpoints that DNS publishes:
// ready ones (an unknown condition counts as ready, as the API says), and
// the others too when the Service publishes not-ready addresses. Slices
// are taken in name order so that answers are stable.
func endpoints(svc *corev1.Service, bySlice map[string]*discoveryv1.EndpointSlice) []endpoint {
	var eps []endpoint
	for _, name := range slices.Sorted(maps.Keys(bySlice)) {
		s := bySlice[name]
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range e.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				host := dashed(addr)
				if e.Hostname != nil && *e.Hostname != "" {
					host = strings.ToLower(*e.Hostname)
				}
				eps = append(eps, endpoint{host: host, addr: addr, ports: s.Ports})
			}
		}
	}
	return eps
}

// dashed is an address as one DNS label: 10-42-0-5, fd00--5.
func dashed(a netip.Addr) string {
	s := a.Unmap().String()
	if a.Is4() || a.Is4In6() {
		return strings.ReplaceAll(s, ".", "-")
	}
	return strings.ReplaceAll(s, ":", "-")
}

// portName is the SRV name _name._proto.base of a named port, "" for an
// unnamed one.
func portName(name string, proto *corev1.Protocol, base string) string {
	if name == "" {
		return ""
	}
	p := corev1.ProtocolTCP
	if proto != nil && *proto != "" {
		p = *proto
	}
	return "_" + strings.ToLower(name) + "._" + strings.ToLower(string(p)) + "." + base
}

func appendAddr(addrs []netip.Addr, a netip.Addr) []netip.Addr {
	if slices.Contains(addrs, a) {
		return addrs
	}
	return append(addrs, a)
}

// appendSRV adds target:port, merging the address into an existing one.
func appendSRV(recs []srvRecord, target string, port uint16, addr netip.Addr) []srvRecord {
	for i := range recs {
		if recs[i].target == target && recs[i].port == port {
			recs[i].addrs = appendAddr(recs[i].addrs, addr)
			return recs
		}
	}
	return append(recs, srvRecord{target: target, port: port, addrs: []netip.Addr{addr}})
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
