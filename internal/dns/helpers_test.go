package dns

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// testServer is a Server on 127.0.0.1 with a fake API and a fake upstream.
type testServer struct {
	srv      *Server
	client   *fake.Clientset
	addr     string // host:port served
	upstream *fakeUpstream
}

func startServer(t *testing.T, objs ...runtime.Object) *testServer {
	t.Helper()
	up := startUpstream(t)
	return startServerWith(t, Config{Upstreams: []string{up.addr}}, up, objs...)
}

func startServerWith(t *testing.T, cfg Config, up *fakeUpstream, objs ...runtime.Object) *testServer {
	t.Helper()
	client := fake.NewClientset(objs...)
	cfg.Informers = informers.NewSharedInformerFactory(client, 0)
	if len(cfg.Addresses) == 0 {
		cfg.Addresses = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	if cfg.ResolvConf == "" {
		// Never the host's resolvers: a test with no upstreams has none.
		cfg.ResolvConf = "/nonexistent/resolv.conf"
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runServer(t, srv)
	return &testServer{srv: srv, client: client, addr: srv.Addrs()[0].String(), upstream: up}
}

// runServer runs srv until the test ends or stop is called, and waits
// until it is ready; stop ends Run, checks it went well and closes srv.
func runServer(t *testing.T, srv *Server) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	exited := make(chan struct{})
	var runErr error
	go func() {
		defer close(exited)
		runErr = srv.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-exited
		if runErr != nil {
			t.Errorf("Run: %v", runErr)
		}
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(stop)
	select {
	case <-srv.Ready():
	case <-exited:
		t.Fatalf("Run returned before ready: %v", runErr)
	case <-time.After(10 * time.Second):
		t.Fatal("server not ready after 10 s")
	}
	return stop
}

// query asks the server over net ("udp" or "tcp"); edns > 0 adds an OPT
// record with that size.
func query(t *testing.T, addr, net, name string, qtype uint16, edns uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	c := &dns.Client{Net: net, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil && !errors.Is(err, dns.ErrBuf) {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], net, err)
	}
	return r
}

// rrStrings renders records without their TTL and name case, sorted, for
// comparing with a table.
func rrStrings(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		f := strings.Fields(rr.String())
		f = slices.Delete(f, 1, 2) // the TTL
		out = append(out, strings.Join(f, " "))
	}
	slices.Sort(out)
	return out
}

// fakeUpstream is a resolver on loopback: example.com has an A record,
// big.example. has more than fit in 512 bytes (so it truncates over UDP),
// and every other name is NXDOMAIN. It counts queries by transport.
type fakeUpstream struct {
	addr string
	mu   sync.Mutex
	seen map[string]int // "udp"/"tcp" → queries
}

const upstreamAnswer = "192.0.2.1"

func startUpstream(t *testing.T) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{seen: map[string]int{}}
	// UDP picks a free port, which another test may hold for TCP: try
	// again with another until both are ours.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 20 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		if ln, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(port))); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: u}, {Listener: ln, Handler: u}} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		t.Cleanup(func() { srv.Shutdown() })
	}
	return u
}

func (u *fakeUpstream) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	proto := "udp"
	if isTCP(w.RemoteAddr()) {
		proto = "tcp"
	}
	u.mu.Lock()
	u.seen[proto]++
	u.mu.Unlock()
	m := new(dns.Msg).SetReply(req)
	m.RecursionAvailable = true
	q := req.Question[0]
	switch strings.ToLower(q.Name) {
	case "example.com.":
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, mustRR("example.com. 60 IN A "+upstreamAnswer))
		}
	case "big.example.":
		for i := range 60 {
			m.Answer = append(m.Answer, mustRR("big.example. 60 IN A 192.0.2."+itoa(i+1)))
		}
		if proto == "udp" {
			m.Truncate(dns.MinMsgSize)
		}
	default:
		m.Rcode = dns.RcodeNameError
	}
	w.WriteMsg(m)
}

func (u *fakeUpstream) count(proto string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[proto]
}

func mustRR(s string) dns.RR {
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return rr
}

func itoa(i int) string { return strconv.Itoa(i) }

// Objects for the API.

type port struct {
	name  string
	port  int32
	proto corev1.Protocol
}

func service(ns, name, clusterIP string, ports ...port) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: clusterIP, ClusterIPs: strings.Split(clusterIP, ",")},
	}
	svc.Spec.ClusterIP = svc.Spec.ClusterIPs[0]
	for _, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: p.name, Port: p.port, Protocol: p.proto})
	}
	return svc
}

type ep struct {
	ip       string
	hostname string
	ready    bool
}

func slice(ns, svc, name string, eps []ep, ports ...port) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, e := range eps {
		if strings.Contains(e.ip, ":") {
			s.AddressType = discoveryv1.AddressTypeIPv6
		}
		d := discoveryv1.Endpoint{Addresses: []string{e.ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(e.ready)}}
		if e.hostname != "" {
			d.Hostname = ptr.To(e.hostname)
		}
		s.Endpoints = append(s.Endpoints, d)
	}
	for _, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.name), Port: ptr.To(p.port), Protocol: ptr.To(p.proto)})
	}
	return s
}

// closedPort is a loopback address nothing listens on: queries to it fail
// at once (port unreachable, connection refused).
func closedPort(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
