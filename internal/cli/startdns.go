package cli

import (
	"context"
	"net"
	"time"

	"github.com/miekg/dns"
)

// dnsProbe asks the node's cluster DNS (from the host, the address is on
// the node's mini-dns0) for the kubernetes Service: an answer says the
// DNS serves and has synced the Services.
type dnsProbe struct {
	server string // host:port
	name   string // kubernetes.default.svc.<domain>
	// exchange sends one query; nil: over UDP with a short timeout.
	exchange func(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error)
}

func newDNSProbe(clusterDNS, domain string) *dnsProbe {
	return &dnsProbe{server: net.JoinHostPort(clusterDNS, "53"), name: "kubernetes.default.svc." + domain}
}

// answers says whether one query got an address.
func (p *dnsProbe) answers(ctx context.Context) bool {
	exchange := p.exchange
	if exchange == nil {
		c := &dns.Client{Timeout: 200 * time.Millisecond}
		exchange = func(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
			r, _, err := c.ExchangeContext(ctx, m, server)
			return r, err
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(p.name), dns.TypeA)
	r, err := exchange(ctx, m, p.server)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		return false
	}
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.A); ok {
			return true
		}
	}
	return false
}

// await asks until an answer comes (or ctx ends) and then sends the time
// since launched.
func (p *dnsProbe) await(ctx context.Context, launched time.Time) <-chan time.Duration {
	answered := make(chan time.Duration, 1)
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for !p.answers(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		answered <- time.Since(launched)
	}()
	return answered
}

// host is the DNS server's address without the port.
func (p *dnsProbe) host() string {
	h, _, err := net.SplitHostPort(p.server)
	if err != nil {
		return p.server
	}
	return h
}
