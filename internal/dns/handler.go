package dns

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// ServeDNS answers one query: names in the cluster domain and known
// reverse names from the index, everything else from the upstreams.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	tcp := isTCP(w.RemoteAddr())
	reply(w, req, s.answer(req, tcp), tcp)
}

func (s *Server) answer(req *dns.Msg, tcp bool) *dns.Msg {
	if req.Opcode != dns.OpcodeQuery {
		return new(dns.Msg).SetRcode(req, dns.RcodeNotImplemented)
	}
	if len(req.Question) != 1 {
		return new(dns.Msg).SetRcode(req, dns.RcodeFormatError)
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qclass == dns.ClassINET || q.Qclass == dns.ClassANY {
		if dns.IsSubDomain(s.ix.zone, name) {
			return s.zoneAnswer(req, q, name, tcp)
		}
		if m := s.reverseAnswer(req, q, name); m != nil {
			return m
		}
	}
	return s.forward(req, tcp)
}

// zoneAnswer answers a name in the cluster domain, as CoreDNS does: the
// records a name has, NODATA for a name that exists without the type
// asked (the zone apex, "svc", "pod", any namespace under them), NXDOMAIN
// for the rest; both with the zone's SOA.
func (s *Server) zoneAnswer(req *dns.Msg, q dns.Question, name string, tcp bool) *dns.Msg {
	m := s.authoritative(req)
	rel := strings.TrimSuffix(strings.TrimSuffix(name, s.ix.zone), ".")
	labels := dns.SplitDomainName(rel)
	var rr *rrset
	exists := true
	switch {
	case rel == "":
		s.apex(m, q)
	case rel == "dns-version":
		if q.Qtype == dns.TypeTXT {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: s.hdr(q.Name, dns.TypeTXT), Txt: []string{dnsSchemaVersion}})
		}
	case rel == "ns.dns":
		rr = &rrset{addrs: s.cfg.Addresses}
	default:
		rr = s.ix.lookup(name)
		if rr == nil && len(labels) == 3 && labels[2] == "pod" {
			if ip, ok := podIP(labels[0]); ok {
				rr = &rrset{addrs: []netip.Addr{ip}}
			}
		}
		last := labels[len(labels)-1]
		exists = rr != nil || (len(labels) <= 2 && (last == "svc" || last == "pod"))
	}
	if rr != nil {
		s.records(m, q, rr, tcp)
	}
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	if len(m.Answer) == 0 {
		m.Ns = []dns.RR{s.soa(s.ix.zone)}
	}
	return m
}

// dnsSchemaVersion is the Kubernetes DNS specification's version, served
// as TXT at dns-version.<zone>.
const dnsSchemaVersion = "1.1.0"

// apex answers the zone's own name: SOA, and NS naming ns.dns.<zone>.
func (s *Server) apex(m *dns.Msg, q dns.Question) {
	switch q.Qtype {
	case dns.TypeSOA, dns.TypeANY:
		m.Answer = append(m.Answer, s.soa(s.ix.zone))
	case dns.TypeNS:
		ns := "ns.dns." + s.ix.zone
		m.Answer = append(m.Answer, &dns.NS{Hdr: s.hdr(q.Name, dns.TypeNS), Ns: ns})
		m.Extra = appendAddrRRs(m.Extra, s.hdr(ns, 0), s.cfg.Addresses, dns.TypeANY)
	}
}

// records puts the records of rr that answer q in m.
func (s *Server) records(m *dns.Msg, q dns.Question, rr *rrset, tcp bool) {
	if rr.cname != "" {
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: s.hdr(q.Name, dns.TypeCNAME), Target: rr.cname})
		if q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA {
			m.Answer = append(m.Answer, s.chase(rr.cname, q.Qtype, tcp)...)
		}
		return
	}
	switch q.Qtype {
	case dns.TypeA, dns.TypeAAAA, dns.TypeANY:
		m.Answer = appendAddrRRs(m.Answer, s.hdr(q.Name, 0), rr.addrs, q.Qtype)
	case dns.TypeSRV:
		// CoreDNS's weights: records of one priority share 100.
		weight := uint16(100 / max(len(rr.srv), 1))
		for _, r := range rr.srv {
			m.Answer = append(m.Answer, &dns.SRV{Hdr: s.hdr(q.Name, dns.TypeSRV), Priority: 0, Weight: weight, Port: r.port, Target: r.target})
			m.Extra = appendAddrRRs(m.Extra, s.hdr(r.target, 0), r.addrs, dns.TypeANY)
		}
	}
}

// chase follows an ExternalName's CNAME for the client, as CoreDNS does:
// in the zone from the index, elsewhere through the upstreams. Nothing
// found leaves the CNAME alone in the answer.
func (s *Server) chase(target string, qtype uint16, tcp bool) []dns.RR {
	if dns.IsSubDomain(s.ix.zone, target) {
		if rr := s.ix.lookup(target); rr != nil && rr.cname == "" {
			return appendAddrRRs(nil, s.hdr(target, 0), rr.addrs, qtype)
		}
		return nil
	}
	q := new(dns.Msg).SetQuestion(target, qtype)
	r, err := s.fwd.exchange(q, tcp)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return nil
	}
	return r.Answer
}

// appendAddrRRs appends A records (qtype A or ANY) and AAAA records (AAAA
// or ANY) for addrs under the header's name.
func appendAddrRRs(rrs []dns.RR, hdr dns.RR_Header, addrs []netip.Addr, qtype uint16) []dns.RR {
	for _, a := range addrs {
		h := hdr
		switch {
		case a.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
			h.Rrtype = dns.TypeA
			rrs = append(rrs, &dns.A{Hdr: h, A: a.AsSlice()})
		case a.Is6() && !a.Is4In6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
			h.Rrtype = dns.TypeAAAA
			rrs = append(rrs, &dns.AAAA{Hdr: h, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// podIP reads a pod name of `pods insecure`: 10-42-0-5 or fd00--5.
func podIP(label string) (netip.Addr, bool) {
	var s string
	if strings.Count(label, "-") == 3 && !strings.Contains(label, "--") {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	ip, err := netip.ParseAddr(s)
	return ip, err == nil && ip.Zone() == ""
}

func (s *Server) authoritative(req *dns.Msg) *dns.Msg {
	m := new(dns.Msg).SetReply(req)
	m.Authoritative = true
	return m
}

func (s *Server) hdr(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: s.ttl}
}

// soa is the SOA record of zone, as CoreDNS's kubernetes plugin makes it.
func (s *Server) soa(zone string) dns.RR {
	return &dns.SOA{
		Hdr:     s.hdr(zone, dns.TypeSOA),
		Ns:      "ns.dns." + s.ix.zone,
		Mbox:    "hostmaster." + s.ix.zone,
		Serial:  s.ix.serial.Load(),
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  s.ttl,
	}
}

func isTCP(a net.Addr) bool {
	_, ok := a.(*net.TCPAddr)
	return ok
}
