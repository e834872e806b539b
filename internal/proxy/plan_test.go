package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"
)

var testPlanner = planner{clusterCIDR: DefaultClusterCIDR}

// planWith plans with the given slots, which successive plans of one
// Service must share as the proxy's do.
func planWith(slots slotter, s *v1.Service, sl ...*discovery.EndpointSlice) *servicePlan {
	if skipService(s) {
		return testPlanner.plan(nil, nil, slots)
	}
	return testPlanner.plan(servicePorts(s, sl, testNode), lbAddresses(s, testNode), slots)
}

// noSlots is a map with no room left.
type noSlots struct{}

func (noSlots) slot(string) (uint32, bool) { return 0, false }

// dump renders a plan as nft-like text, for comparing with expectations.
func dump(p *servicePlan) string {
	var b strings.Builder
	for _, c := range p.chains {
		b.WriteString(c.String())
	}
	for _, e := range p.elems {
		b.WriteString(e.String() + "\n")
	}
	for _, e := range p.eps {
		b.WriteString(e.String() + "\n")
	}
	for _, ip := range p.hairpin {
		b.WriteString("hairpin: " + ip.String() + "\n")
	}
	for _, s := range p.sets {
		b.WriteString("set " + s.name + " timeout " + s.timeout.String() + "\n")
	}
	return b.String()
}

func TestPlan(t *testing.T) {
	web := func(mod func(*v1.Service)) *v1.Service {
		s := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 30080))
		if mod != nil {
			mod(s)
		}
		return s
	}
	two := slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.5", node: "other"})
	tests := []struct {
		name   string
		svc    *v1.Service
		slices []*discovery.EndpointSlice
		slots  slotter  // nil: a fresh map
		want   []string // lines that must be in the dump
		not    []string // lines that must not
	}{{
		name: "ClusterIP with two endpoints",
		svc:  web(nil), slices: []*discovery.EndpointSlice{two},
		want: []string{
			"chain service-ns/web/tcp/http {",
			"ip daddr 10.43.0.20 ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
			"meta l4proto tcp dnat ip to numgen random mod 2 map @endpoints-0\n}",
			"endpoints-0: 0 : 10.42.0.5 . 8080",
			"endpoints-0: 1 : 10.42.1.5 . 8080",
			"service-ips: 10.43.0.20 . tcp . 80 : goto service-ns/web/tcp/http",
			"hairpin: 10.42.0.5\nhairpin: 10.42.1.5\n",
		},
		not: []string{"external-", "service-nodeports", "chain endpoint-", "balance-"},
	}, {
		name: "no map slot left balances through endpoint chains",
		svc:  web(nil), slices: []*discovery.EndpointSlice{two}, slots: noSlots{},
		want: []string{
			"numgen random mod 2 vmap @balance-service-ns/web/tcp/http { 0 : goto endpoint-ns/web/tcp/http__10.42.0.5/8080, 1 : goto endpoint-ns/web/tcp/http__10.42.1.5/8080 }",
			"chain endpoint-ns/web/tcp/http__10.42.0.5/8080 {\n\tmeta l4proto tcp dnat to 10.42.0.5:8080\n}",
			"hairpin: 10.42.0.5",
		},
		not: []string{"endpoints-"},
	}, {
		name: "no endpoints rejects",
		svc:  web(nil),
		want: []string{"no-endpoint-services: 10.43.0.20 . tcp . 80 : goto reject-chain"},
		not:  []string{"chain "},
	}, {
		name: "only not-ready endpoints count as none",
		svc:  web(nil),
		slices: []*discovery.EndpointSlice{slice("web", "web-1", "http", v1.ProtocolTCP, 8080,
			ep{ip: "10.42.0.5", node: testNode, notReady: true})},
		want: []string{"no-endpoint-services: 10.43.0.20 . tcp . 80 : goto reject-chain"},
	}, {
		name: "serving terminating endpoints when none is ready",
		svc:  web(nil),
		slices: []*discovery.EndpointSlice{slice("web", "web-1", "http", v1.ProtocolTCP, 8080,
			ep{ip: "10.42.0.5", node: testNode, terminating: true}, ep{ip: "10.42.0.6", node: testNode, notReady: true})},
		want: []string{"endpoints-0: 0 : 10.42.0.5 . 8080"},
		not:  []string{"10.42.0.6"},
	}, {
		name: "ready endpoints win over terminating ones",
		svc:  web(nil),
		slices: []*discovery.EndpointSlice{slice("web", "web-1", "http", v1.ProtocolTCP, 8080,
			ep{ip: "10.42.0.5", node: testNode, terminating: true}, ep{ip: "10.42.0.6", node: testNode})},
		want: []string{"endpoints-0: 0 : 10.42.0.6 . 8080"},
		not:  []string{"10.42.0.5"},
	}, {
		name: "NodePort, LoadBalancer and externalIPs go through the external chain",
		svc: web(func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeLoadBalancer
			s.Spec.ExternalIPs = []string{"192.0.2.7"}
			s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.0.2.8"}}
		}),
		slices: []*discovery.EndpointSlice{two},
		want: []string{
			"chain external-ns/web/tcp/http {\n\tjump mark-for-masquerade\n\tgoto service-ns/web/tcp/http\n}",
			"service-ips: 192.0.2.7 . tcp . 80 : goto external-ns/web/tcp/http",
			"service-ips: 192.0.2.8 . tcp . 80 : goto external-ns/web/tcp/http",
			"service-nodeports: tcp . 30080 : goto external-ns/web/tcp/http",
		},
	}, {
		name: "externalTrafficPolicy Local",
		svc: web(func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		}),
		slices: []*discovery.EndpointSlice{two},
		want: []string{
			"chain local-ns/web/tcp/http {\n\tmeta l4proto tcp dnat ip to numgen random mod 1 offset 65536 map @endpoints-0\n}",
			"endpoints-0: 65536 : 10.42.0.5 . 8080",
			"endpoints-0: 1 : 10.42.1.5 . 8080",
			"ip saddr 10.42.0.0/16 goto service-ns/web/tcp/http",
			"fib saddr type local jump mark-for-masquerade",
			"fib saddr type local goto service-ns/web/tcp/http",
			"goto local-ns/web/tcp/http\n}",
			"service-nodeports: tcp . 30080 : goto external-ns/web/tcp/http",
		},
	}, {
		name: "externalTrafficPolicy Local without a local endpoint drops",
		svc: web(func(s *v1.Service) {
			s.Spec.Type = v1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
		}),
		slices: []*discovery.EndpointSlice{slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.1.5", node: "other"})},
		want: []string{
			"no-endpoint-nodeports: tcp . 30080 : drop",
			"service-ips: 10.43.0.20 . tcp . 80 : goto service-ns/web/tcp/http",
		},
		not: []string{"external-", "local-"},
	}, {
		name: "internalTrafficPolicy Local",
		svc: web(func(s *v1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discovery.EndpointSlice{two},
		want: []string{
			"chain local-ns/web/tcp/http {\n\tip daddr 10.43.0.20 ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n\tmeta l4proto tcp dnat ip to numgen random mod 1 map @endpoints-0\n}",
			"service-ips: 10.43.0.20 . tcp . 80 : goto local-ns/web/tcp/http",
		},
		not: []string{"chain service-", "10.42.1.5"},
	}, {
		name: "internalTrafficPolicy Local without a local endpoint drops",
		svc: web(func(s *v1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discovery.EndpointSlice{slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.1.5", node: "other"})},
		want:   []string{"no-endpoint-services: 10.43.0.20 . tcp . 80 : drop"},
	}, {
		name: "session affinity",
		svc: web(func(s *v1.Service) {
			s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](30)}}
		}),
		slices: []*discovery.EndpointSlice{two},
		want: []string{
			"ip saddr @affinity-ns/web/tcp/http__10.42.0.5/8080 goto endpoint-ns/web/tcp/http__10.42.0.5/8080",
			"update @affinity-ns/web/tcp/http__10.42.0.5/8080 { ip saddr }",
			"set affinity-ns/web/tcp/http__10.42.1.5/8080 timeout 30s",
			"chain endpoint-ns/web/tcp/http__10.42.0.5/8080 {\n\tupdate @affinity-ns/web/tcp/http__10.42.0.5/8080 { ip saddr }\n\tmeta l4proto tcp dnat to 10.42.0.5:8080\n}",
			"hairpin: 10.42.0.5",
		},
		not: []string{"endpoints-"},
	}, {
		name: "UDP and SCTP ports",
		svc:  svc("dns", "10.43.0.30", port("dns", v1.ProtocolUDP, 53, 0), port("s", v1.ProtocolSCTP, 9, 0)),
		slices: []*discovery.EndpointSlice{
			slice("dns", "dns-1", "dns", v1.ProtocolUDP, 5353, ep{ip: "10.42.0.9", node: testNode}),
			slice("dns", "dns-2", "s", v1.ProtocolSCTP, 9999, ep{ip: "10.42.0.9", node: testNode}),
		},
		want: []string{
			"meta l4proto udp dnat ip to numgen random mod 1 map @endpoints-0",
			"meta l4proto sctp dnat ip to numgen random mod 1 offset 65536 map @endpoints-0",
			"endpoints-0: 0 : 10.42.0.9 . 5353",
			"endpoints-0: 65536 : 10.42.0.9 . 9999",
			"hairpin: 10.42.0.9\n",
			"service-ips: 10.43.0.30 . sctp . 9 : goto service-ns/dns/sctp/s",
		},
	}, {
		name:   "node-local Service is skipped",
		svc:    web(func(s *v1.Service) { s.Labels = map[string]string{NodeLocalLabel: "true"} }),
		slices: []*discovery.EndpointSlice{two},
		not:    []string{"10.43.0.20"},
	}, {
		name:   "headless Service is skipped",
		svc:    svc("web", "None", port("http", v1.ProtocolTCP, 80, 0)),
		slices: []*discovery.EndpointSlice{two},
		not:    []string{"chain", "service-ips"},
	}, {
		name: "ExternalName Service is skipped",
		svc:  web(func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeExternalName }),
		not:  []string{"10.43.0.20"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slots := tc.slots
			if slots == nil {
				slots = newSlots()
			}
			got := dump(planWith(slots, tc.svc, tc.slices...))
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("unexpected %q in\n%s", n, got)
				}
			}
		})
	}
}

func TestLBAddresses(t *testing.T) {
	s := svc("lb", "10.43.0.40", port("http", v1.ProtocolTCP, 80, 30000))
	s.Spec.Type = v1.ServiceTypeLoadBalancer
	s.Status.LoadBalancer.Ingress = []v1.LoadBalancerIngress{{IP: "192.0.2.10"}, {IP: "2001:db8::1"}}
	if got := lbAddresses(s, testNode); len(got) != 0 {
		t.Errorf("no annotation: %v", got)
	}
	s.Annotations = map[string]string{LBNodeAnnotation: testNode}
	if got := lbAddresses(s, testNode); !slices.Equal(got, addrs("192.0.2.10")) {
		t.Errorf("got %v", got)
	}
	if got := lbAddresses(s, "other"); len(got) != 0 {
		t.Errorf("other node: %v", got)
	}
}

func names(list []string) string { return strings.Join(list, ",") }

func TestDiff(t *testing.T) {
	two := slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.5", node: "other"})
	moved := slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.0.5", node: testNode}, ep{ip: "10.42.1.6", node: "other"})
	one := slice("web", "web-1", "http", v1.ProtocolTCP, 8080, ep{ip: "10.42.0.5", node: testNode})
	web := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
	affine := svc("web", "10.43.0.20", port("http", v1.ProtocolTCP, 80, 0))
	affine.Spec.SessionAffinity = v1.ServiceAffinityClientIP
	affine5 := affine.DeepCopy()
	affine5.Spec.SessionAffinityConfig = &v1.SessionAffinityConfig{ClientIP: &v1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](5)}}
	type side struct {
		svc    *v1.Service
		slices []*discovery.EndpointSlice
	}
	tests := []struct {
		name     string
		from, to side
		check    func(t *testing.T, ch *changes)
	}{{
		name: "unchanged plan changes nothing",
		from: side{web, []*discovery.EndpointSlice{two}}, to: side{web, []*discovery.EndpointSlice{two}},
		check: func(t *testing.T, ch *changes) {
			if !ch.empty() {
				t.Errorf("changes: %+v", ch)
			}
		},
	}, {
		name: "an endpoint replaced by another replaces one map element, no chain",
		from: side{web, []*discovery.EndpointSlice{two}}, to: side{web, []*discovery.EndpointSlice{moved}},
		check: func(t *testing.T, ch *changes) {
			if len(ch.flushChains)+len(ch.addChains)+len(ch.delChains)+len(ch.addSets)+len(ch.delSets) != 0 {
				t.Errorf("chains or sets changed: %+v", ch)
			}
			if len(ch.delEps) != 1 || ch.delEps[0].String() != "endpoints-0: 1 : 10.42.1.5 . 8080" {
				t.Errorf("deleted elements %v", ch.delEps)
			}
			if len(ch.addEps) != 1 || ch.addEps[0].String() != "endpoints-0: 1 : 10.42.1.6 . 8080" {
				t.Errorf("added elements %v", ch.addEps)
			}
		},
	}, {
		name: "an endpoint going rewrites the service chain and deletes its element",
		from: side{web, []*discovery.EndpointSlice{two}}, to: side{web, []*discovery.EndpointSlice{one}},
		check: func(t *testing.T, ch *changes) {
			if got := names(ch.flushChains); got != "service-ns/web/tcp/http" {
				t.Errorf("flushed chains %s", got)
			}
			if len(ch.addChains) != 1 || ch.addChains[0].name != "service-ns/web/tcp/http" {
				t.Errorf("added chains %v", ch.addChains)
			}
			if len(ch.delChains)+len(ch.delSets) != 0 {
				t.Errorf("deleted chains %v, sets %v", ch.delChains, ch.delSets)
			}
			if len(ch.delEps) != 1 || ch.delEps[0].key != 1 || len(ch.addEps) != 0 {
				t.Errorf("elements +%v -%v", ch.addEps, ch.delEps)
			}
			if len(ch.addElems)+len(ch.delElems) != 0 {
				t.Errorf("verdict elements changed: +%v -%v", ch.addElems, ch.delElems)
			}
		},
	}, {
		name: "last endpoint going moves the element to the reject map",
		from: side{web, []*discovery.EndpointSlice{one}}, to: side{web, nil},
		check: func(t *testing.T, ch *changes) {
			if len(ch.delElems) != 1 || ch.delElems[0].m != serviceIPs {
				t.Errorf("deleted %v", ch.delElems)
			}
			if len(ch.addElems) != 1 || ch.addElems[0].m != noEndpointServices || ch.addElems[0].target != chainReject {
				t.Errorf("added %v", ch.addElems)
			}
			if len(ch.delChains) != 1 || len(ch.delEps) != 1 {
				t.Errorf("deleted chains %v, elements %v", ch.delChains, ch.delEps)
			}
		},
	}, {
		name: "affinity endpoint going deletes its endpoint chain and set",
		from: side{affine, []*discovery.EndpointSlice{two}}, to: side{affine, []*discovery.EndpointSlice{one}},
		check: func(t *testing.T, ch *changes) {
			if got := names(ch.delChains); got != "endpoint-ns/web/tcp/http__10.42.1.5/8080" {
				t.Errorf("deleted chains %s", got)
			}
			if got := names(ch.delSets); got != "balance-service-ns/web/tcp/http,affinity-ns/web/tcp/http__10.42.1.5/8080" {
				t.Errorf("deleted sets %s", got)
			}
		},
	}, {
		name: "deleted Service removes everything",
		from: side{affine, []*discovery.EndpointSlice{two}}, to: side{web, nil},
		check: func(t *testing.T, ch *changes) {
			if len(ch.delSets) != 3 { // 2 affinity sets, 1 balancing map
				t.Errorf("deleted sets %v", ch.delSets)
			}
		},
	}, {
		name: "affinity timeout change recreates sets and rewrites their chains",
		from: side{affine, []*discovery.EndpointSlice{two}}, to: side{affine5, []*discovery.EndpointSlice{two}},
		check: func(t *testing.T, ch *changes) {
			if len(ch.addSets) != 2 || len(ch.flushChains) != 3 || len(ch.addChains) != 3 {
				t.Errorf("sets +%v, flushed %v, added %d chains", ch.addSets, ch.flushChains, len(ch.addChains))
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slots := newSlots()
			rec := diff(nil, planWith(slots, tc.from.svc, tc.from.slices...), &changes{})
			ch := &changes{}
			diff(rec, planWith(slots, tc.to.svc, tc.to.slices...), ch)
			tc.check(t, ch)
		})
	}
}

func TestSlots(t *testing.T) {
	s := newSlots()
	s.limit = 2
	a, _ := s.slot("a")
	b, _ := s.slot("b")
	if again, _ := s.slot("a"); a != 0 || b != 1 || again != a {
		t.Errorf("slots a=%d b=%d, a again %d", a, b, again)
	}
	if _, ok := s.slot("c"); ok {
		t.Error("a third slot out of two")
	}
	s.release("a")
	if c, ok := s.slot("c"); !ok || c != a {
		t.Errorf("c got %d %v, want a's freed slot %d", c, ok, a)
	}
	if got := endpointsMapOf(63<<slotBits|5) + " " + endpointsMapOf(64<<slotBits); got != "endpoints-0 endpoints-1" {
		t.Errorf("maps of slots 63 and 64: %s", got)
	}
	s.retain(func(chain string) bool { return chain == "c" })
	if d, ok := s.slot("d"); !ok || d != b {
		t.Errorf("d got %d %v, want b's slot %d", d, ok, b)
	}
}

func TestHairpinRefs(t *testing.T) {
	ip := netip.MustParseAddr
	p := &Proxy{hairpinRefs: map[netip.Addr]int{ip("10.42.0.5"): 2, ip("10.42.0.6"): 1}}
	old := map[string]*record{
		"ns/a": {hairpin: addrs("10.42.0.5", "10.42.0.6")},
	}
	newRecs := map[string]*record{
		"ns/a": {hairpin: addrs("10.42.0.7")},
	}
	ch := &changes{}
	counts := p.hairpin(old, newRecs, false, ch)
	if fmt.Sprint(ch.addHairpin) != "[10.42.0.7]" || fmt.Sprint(ch.delHairpin) != "[10.42.0.6]" {
		t.Errorf("added %v, deleted %v", ch.addHairpin, ch.delHairpin)
	}
	if counts[ip("10.42.0.5")] != 1 || counts[ip("10.42.0.6")] != 0 || counts[ip("10.42.0.7")] != 1 {
		t.Errorf("counts %v", counts)
	}
	ch = &changes{}
	p.hairpin(old, newRecs, true, ch)
	if fmt.Sprint(ch.addHairpin) != "[10.42.0.7]" || len(ch.delHairpin) != 0 {
		t.Errorf("full sync: added %v, deleted %v", ch.addHairpin, ch.delHairpin)
	}
}

func TestStaticChains(t *testing.T) {
	var b strings.Builder
	for _, c := range staticChains(nil) {
		b.WriteString(c.String())
	}
	got := b.String()
	for _, w := range []string{
		"fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
		"ip daddr . meta l4proto . th dport vmap @service-ips",
		"ct state new jump service-endpoints-check",
		"masquerade fully-random",
		"ct status dnat ip saddr . ip daddr @hairpin jump mark-for-masquerade",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q", w)
		}
	}
	b.Reset()
	for _, c := range staticChains([]netip.Addr{netip.MustParseAddr("192.0.2.1")}) {
		b.WriteString(c.String())
	}
	if !strings.Contains(b.String(), "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports") {
		t.Errorf("node IPs not used:\n%s", b.String())
	}
}
