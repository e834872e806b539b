package dns

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// forwarder sends queries outside the cluster to the upstream resolvers,
// as CoreDNS's `forward . /etc/resolv.conf`: one upstream at a time,
// starting from the next in turn so the load spreads, the next one on an
// error or a timeout. A UDP answer with TC set is asked again over TCP,
// and a query that came over TCP goes over TCP.
type forwarder struct {
	upstreams []string
	next      atomic.Uint32
	udp, tcp  *dns.Client
}

func newForwarder(upstreams []string, timeout time.Duration) *forwarder {
	return &forwarder{
		upstreams: upstreams,
		udp:       &dns.Client{Net: "udp", Timeout: timeout, UDPSize: dns.MaxMsgSize},
		tcp:       &dns.Client{Net: "tcp", Timeout: timeout},
	}
}

func (f *forwarder) exchange(req *dns.Msg, tcp bool) (*dns.Msg, error) {
	if len(f.upstreams) == 0 {
		return nil, ErrNoUpstream
	}
	start := int(f.next.Add(1))
	var errs []error
	for i := range f.upstreams {
		up := f.upstreams[(start+i)%len(f.upstreams)]
		r, err := f.exchangeOne(req, up, tcp)
		if err == nil {
			return r, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
	}
	return nil, fmt.Errorf("%w: %w", ErrNoUpstream, errors.Join(errs...))
}

func (f *forwarder) exchangeOne(req *dns.Msg, upstream string, tcp bool) (*dns.Msg, error) {
	if !tcp {
		r, _, err := f.udp.Exchange(req, upstream)
		if err != nil || !r.Truncated {
			return r, err
		}
	}
	r, _, err := f.tcp.Exchange(req, upstream)
	return r, err
}

// forward answers req from the upstreams, SERVFAIL when none does.
func (s *Server) forward(req *dns.Msg, tcp bool) *dns.Msg {
	r, err := s.fwd.exchange(req, tcp)
	if err != nil {
		s.log.Debug("forward failed", "name", req.Question[0].Name, "err", err)
		return new(dns.Msg).SetRcode(req, dns.RcodeServerFailure)
	}
	r.Id = req.Id
	return r
}
