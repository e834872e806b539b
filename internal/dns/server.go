package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	"k8s.io/client-go/tools/cache"

	"mini.dev/mini/internal/netnsutil"
)

// Server is the node's cluster DNS server.
type Server struct {
	cfg Config
	log *slog.Logger
	ttl uint32
	ix  *index
	fwd *forwarder // set by Run before the first query
	// ns is the network namespace current when New ran: the device and
	// the sockets are made there whichever thread Run is on.
	ns     netns.NsHandle
	synced []cache.InformerSynced

	running atomic.Bool
	ready   chan struct{}
	addrs   []netip.AddrPort // bound UDP (and TCP) addresses; set before ready
}

// New returns a Server for the network namespace current on the calling
// thread. It registers its informers' handlers and changes nothing else;
// Run serves.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ns, err := netns.Get()
	if err != nil {
		return nil, fmt.Errorf("open the current network namespace: %w", err)
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "dns"),
		ttl:   uint32(cfg.TTL / time.Second),
		ix:    newIndex(cfg.Domain),
		ns:    ns,
		ready: make(chan struct{}),
	}
	if err := s.watch(); err != nil {
		ns.Close()
		return nil, err
	}
	return s, nil
}

// Ready is closed once the Server answers: its caches synced and its
// sockets bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs are the addresses served (UDP and TCP on each); valid after Ready.
func (s *Server) Addrs() []netip.AddrPort { return s.addrs }

// Run syncs the caches, puts the addresses on the device, serves until
// ctx ends and then stops serving. The device stays, so that a restart
// finds it in place; Close removes it.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("dns: Run called twice")
	}
	s.cfg.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return ctx.Err()
	}
	upstreams := s.cfg.Upstreams
	if len(upstreams) == 0 {
		var err error
		if upstreams, err = upstreamsFrom(s.cfg.ResolvConf, s.cfg.SystemdResolvConf); err != nil {
			s.log.Warn("no upstream resolvers: names outside the cluster get SERVFAIL", "err", err)
		}
	}
	s.fwd = newForwarder(upstreams, s.cfg.UpstreamTimeout)

	if s.cfg.Device != "" {
		if err := s.withHandle(func(h *netlink.Handle) error { return ensureDevice(h, s.cfg.Device, s.cfg.Addresses) }); err != nil {
			return err
		}
	}
	var servers []*dns.Server
	err := netnsutil.Do(s.ns, func() error {
		var err error
		servers, s.addrs, err = s.listen()
		return err
	})
	if err != nil {
		return err
	}
	errc := make(chan error, len(servers))
	started := make(chan struct{}, len(servers))
	for _, srv := range servers {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { errc <- srv.ActivateAndServe() }()
	}
	for range servers {
		select {
		case <-started:
		case err = <-errc:
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		close(s.ready)
		s.log.Info("serving cluster DNS", "addresses", s.addrs, "domain", s.cfg.Domain, "upstreams", upstreams)
		select {
		case <-ctx.Done():
		case err = <-errc:
		}
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if e := srv.ShutdownContext(shutdown); e != nil && err == nil && ctx.Err() == nil {
			err = e
		}
	}
	if err != nil {
		return fmt.Errorf("dns: serve: %w", err)
	}
	return nil
}

// listen binds UDP and TCP on every address: UDP first, TCP on the port
// UDP got (port 0 picks one per address; it may be taken for TCP, so try
// again a few times).
func (s *Server) listen() ([]*dns.Server, []netip.AddrPort, error) {
	var servers []*dns.Server
	var bound []netip.AddrPort
	fail := func(err error) ([]*dns.Server, []netip.AddrPort, error) {
		for _, srv := range servers {
			if srv.PacketConn != nil {
				srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				srv.Listener.Close()
			}
		}
		return nil, nil, err
	}
	for _, a := range s.cfg.Addresses {
		var pc net.PacketConn
		var ln net.Listener
		var err error
		for range 5 {
			pc, err = net.ListenPacket("udp", net.JoinHostPort(a.String(), strconv.Itoa(s.cfg.Port)))
			if err != nil {
				return fail(fmt.Errorf("dns: listen on %s udp: %w", a, err))
			}
			port := pc.LocalAddr().(*net.UDPAddr).Port
			ln, err = net.Listen("tcp", net.JoinHostPort(a.String(), strconv.Itoa(port)))
			if err == nil || s.cfg.Port != 0 || !errors.Is(err, unix.EADDRINUSE) {
				break
			}
			pc.Close()
		}
		if err != nil {
			pc.Close()
			return fail(fmt.Errorf("dns: listen on %s tcp: %w", a, err))
		}
		servers = append(servers,
			&dns.Server{PacketConn: pc, Handler: s},
			&dns.Server{Listener: ln, Handler: s, ReadTimeout: 10 * time.Second, IdleTimeout: func() time.Duration { return 10 * time.Second }})
		bound = append(bound, netip.AddrPortFrom(a, uint16(pc.LocalAddr().(*net.UDPAddr).Port)))
	}
	return servers, bound, nil
}

// Close removes the device (when the Server has one) and releases the
// Server; call it after Run returned, when the node stops serving DNS for
// good.
func (s *Server) Close() error {
	var err error
	if s.cfg.Device != "" {
		err = s.withHandle(func(h *netlink.Handle) error { return removeDevice(h, s.cfg.Device) })
	}
	return errors.Join(err, s.ns.Close())
}

func (s *Server) withHandle(fn func(*netlink.Handle) error) error {
	h, err := netlink.NewHandleAt(s.ns, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlink handle: %w", err)
	}
	defer h.Close()
	return fn(h)
}
