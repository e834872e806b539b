package dns

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// reverseAnswer answers a reverse (PTR) name the cluster knows: a Service's
// cluster IP or an endpoint's address. An unknown address inside a Service
// CIDR gets NXDOMAIN, as the cluster owns that range; nil means the name is
// none of the cluster's and goes upstream.
func (s *Server) reverseAnswer(req *dns.Msg, q dns.Question, name string) *dns.Msg {
	addr, ok := parseReverse(name)
	if !ok {
		return nil
	}
	targets := s.ix.ptr(addr)
	zone, owned := s.reverseZone(addr)
	if len(targets) == 0 && !owned {
		return nil
	}
	m := s.authoritative(req)
	if len(targets) == 0 {
		m.Rcode = dns.RcodeNameError
	}
	if q.Qtype == dns.TypePTR || q.Qtype == dns.TypeANY {
		for _, t := range targets {
			m.Answer = append(m.Answer, &dns.PTR{Hdr: s.hdr(q.Name, dns.TypePTR), Ptr: t})
		}
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa(zone)}
	}
	return m
}

// reverseZone is the reverse zone of the Service CIDR holding addr, and
// whether one does; otherwise the top reverse zone of addr's family.
func (s *Server) reverseZone(addr netip.Addr) (string, bool) {
	for _, p := range s.cfg.ServiceCIDRs {
		if p.Contains(addr) {
			return reverseZoneOf(p), true
		}
	}
	if addr.Is4() {
		return "in-addr.arpa.", false
	}
	return "ip6.arpa.", false
}

// reverseZoneOf names the reverse zone covering p, rounded down to a whole
// label: 10.43.0.0/16 is 43.10.in-addr.arpa.
func reverseZoneOf(p netip.Prefix) string {
	arpa, err := dns.ReverseAddr(p.Addr().String())
	if err != nil {
		return "in-addr.arpa."
	}
	labels := dns.SplitDomainName(arpa)
	step, total := 8, 4 // bits per label, labels of a full address
	if p.Addr().Is6() {
		step, total = 4, 32
	}
	keep := p.Bits() / step
	return dns.Fqdn(strings.Join(labels[total-keep:], "."))
}

// parseReverse reads the address of a full reverse name: 4 labels under
// in-addr.arpa or 32 nibbles under ip6.arpa.
func parseReverse(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 10, 8)
			if err != nil || (len(l) > 1 && l[0] == '0') {
				return netip.Addr{}, false
			}
			b[3-i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			v, err := strconv.ParseUint(l, 16, 8)
			if err != nil || len(l) != 1 {
				return netip.Addr{}, false
			}
			n := 31 - i // nibble index from the front
			b[n/2] |= byte(v) << (4 * (1 - n%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
