package dns

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The test cluster: Services in 10.43.0.0/16, pods in 10.42.0.0/16.
//
//	default/web      ClusterIP 10.43.0.20, http 80/TCP, dns 53/UDP;
//	                 endpoints 10.42.0.5 (ready), 10.42.0.6 (not ready)
//	default/dual     ClusterIPs 10.43.0.21 and fd00:43::21, 80/TCP unnamed
//	default/db       headless, pg 5432/TCP: db-0 10.42.1.2, db-1 10.42.1.3
//	                 (ready, hostnames), 10.42.1.4 (not ready)
//	default/pub      headless, publishNotReadyAddresses: 10.42.2.2 (not ready)
//	default/ext      ExternalName example.com
//	kube-system/kube-dns  ClusterIP 10.43.0.10, dns 53/UDP, dns-tcp 53/TCP
func testCluster() []runtime.Object {
	web := service("default", "web", "10.43.0.20", port{"http", 80, corev1.ProtocolTCP}, port{"dns", 53, corev1.ProtocolUDP})
	dual := service("default", "dual", "10.43.0.21,fd00:43::21", port{"", 80, corev1.ProtocolTCP})
	db := service("default", "db", "None", port{"pg", 5432, corev1.ProtocolTCP})
	pub := service("default", "pub", "None", port{"web", 8080, corev1.ProtocolTCP})
	pub.Spec.PublishNotReadyAddresses = true
	ext := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
	}
	kubeDNS := service("kube-system", "kube-dns", "10.43.0.10", port{"dns", 53, corev1.ProtocolUDP}, port{"dns-tcp", 53, corev1.ProtocolTCP})
	kubeDNS.Labels = map[string]string{"mini.dev/node-local": "true"}
	return []runtime.Object{
		web, dual, db, pub, ext, kubeDNS,
		slice("default", "web", "web-1", []ep{{"10.42.0.5", "", true}, {"10.42.0.6", "", false}},
			port{"http", 8080, corev1.ProtocolTCP}, port{"dns", 5353, corev1.ProtocolUDP}),
		slice("default", "db", "db-1", []ep{{"10.42.1.2", "db-0", true}, {"10.42.1.3", "db-1", true}, {"10.42.1.4", "", false}},
			port{"pg", 5432, corev1.ProtocolTCP}),
		slice("default", "pub", "pub-1", []ep{{"10.42.2.2", "", false}}, port{"web", 8080, corev1.ProtocolTCP}),
	}
}

func TestAnswers(t *testing.T) {
	ts := startServer(t, testCluster()...)
	const soa = "cluster.local. IN SOA ns.dns.cluster.local. hostmaster.cluster.local."
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		ns     string // prefix of the authority record, if one is expected
		notAA  bool   // forwarded answers are not authoritative
	}{
		{name: "ClusterIP A", qname: "web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"web.default.svc.cluster.local. IN A 10.43.0.20"}},
		{name: "case-insensitive", qname: "WEB.Default.svc.Cluster.Local.", qtype: dns.TypeA,
			answer: []string{"WEB.Default.svc.Cluster.Local. IN A 10.43.0.20"}},
		{name: "kube-dns itself", qname: "kube-dns.kube-system.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"kube-dns.kube-system.svc.cluster.local. IN A 10.43.0.10"}},
		{name: "IPv4-only Service AAAA is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeAAAA, ns: soa},
		{name: "TXT of a Service is NODATA", qname: "web.default.svc.cluster.local.", qtype: dns.TypeTXT, ns: soa},
		{name: "dual-stack AAAA", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeAAAA,
			answer: []string{"dual.default.svc.cluster.local. IN AAAA fd00:43::21"}},
		{name: "dual-stack A", qname: "dual.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"dual.default.svc.cluster.local. IN A 10.43.0.21"}},
		{name: "named port SRV", qname: "_http._tcp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_http._tcp.web.default.svc.cluster.local. IN SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. IN A 10.43.0.20"}},
		{name: "UDP port SRV", qname: "_dns._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{"_dns._udp.web.default.svc.cluster.local. IN SRV 0 100 53 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. IN A 10.43.0.20"}},
		{name: "wrong protocol SRV", qname: "_http._udp.web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			rcode: dns.RcodeNameError, ns: soa},
		{name: "SRV of the Service lists every port", qname: "web.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"web.default.svc.cluster.local. IN SRV 0 50 53 web.default.svc.cluster.local.",
				"web.default.svc.cluster.local. IN SRV 0 50 80 web.default.svc.cluster.local.",
			},
			extra: []string{"web.default.svc.cluster.local. IN A 10.43.0.20", "web.default.svc.cluster.local. IN A 10.43.0.20"}},
		{name: "endpoint name of a ClusterIP Service", qname: "10-42-0-5.web.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-42-0-5.web.default.svc.cluster.local. IN A 10.42.0.5"}},
		{name: "not-ready endpoint has no name", qname: "10-42-0-6.web.default.svc.cluster.local.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: soa},
		{name: "headless A lists ready endpoints", qname: "db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db.default.svc.cluster.local. IN A 10.42.1.2", "db.default.svc.cluster.local. IN A 10.42.1.3"}},
		{name: "StatefulSet pod name", qname: "db-0.db.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"db-0.db.default.svc.cluster.local. IN A 10.42.1.2"}},
		{name: "headless SRV targets the pods", qname: "_pg._tcp.db.default.svc.cluster.local.", qtype: dns.TypeSRV,
			answer: []string{
				"_pg._tcp.db.default.svc.cluster.local. IN SRV 0 50 5432 db-0.db.default.svc.cluster.local.",
				"_pg._tcp.db.default.svc.cluster.local. IN SRV 0 50 5432 db-1.db.default.svc.cluster.local.",
			},
			extra: []string{"db-0.db.default.svc.cluster.local. IN A 10.42.1.2", "db-1.db.default.svc.cluster.local. IN A 10.42.1.3"}},
		{name: "publishNotReadyAddresses", qname: "pub.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"pub.default.svc.cluster.local. IN A 10.42.2.2"}},
		{name: "ExternalName A chases the CNAME upstream", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeA,
			answer: []string{"ext.default.svc.cluster.local. IN CNAME example.com.", "example.com. IN A 192.0.2.1"}},
		{name: "ExternalName CNAME", qname: "ext.default.svc.cluster.local.", qtype: dns.TypeCNAME,
			answer: []string{"ext.default.svc.cluster.local. IN CNAME example.com."}},
		{name: "pod A", qname: "10-42-0-9.default.pod.cluster.local.", qtype: dns.TypeA,
			answer: []string{"10-42-0-9.default.pod.cluster.local. IN A 10.42.0.9"}},
		{name: "pod AAAA of an IPv4 pod", qname: "10-42-0-9.default.pod.cluster.local.", qtype: dns.TypeAAAA, ns: soa},
		{name: "pod name not an address", qname: "nope.default.pod.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: soa},
		{name: "unknown Service", qname: "missing.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: soa},
		{name: "search path candidate too long", qname: "web.default.default.svc.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: soa},
		{name: "namespace is NODATA", qname: "default.svc.cluster.local.", qtype: dns.TypeA, ns: soa},
		{name: "svc is NODATA", qname: "svc.cluster.local.", qtype: dns.TypeA, ns: soa},
		{name: "unknown name in the zone", qname: "foo.cluster.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, ns: soa},
		{name: "zone SOA", qname: "cluster.local.", qtype: dns.TypeSOA, answer: []string{
			"cluster.local. IN SOA ns.dns.cluster.local. hostmaster.cluster.local. SERIAL 7200 1800 86400 5"}},
		{name: "zone NS", qname: "cluster.local.", qtype: dns.TypeNS,
			answer: []string{"cluster.local. IN NS ns.dns.cluster.local."},
			extra:  []string{"ns.dns.cluster.local. IN A 127.0.0.1"}},
		{name: "dns-version", qname: "dns-version.cluster.local.", qtype: dns.TypeTXT,
			answer: []string{`dns-version.cluster.local. IN TXT "1.1.0"`}},
		{name: "PTR of a cluster IP", qname: "20.0.43.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"20.0.43.10.in-addr.arpa. IN PTR web.default.svc.cluster.local."}},
		{name: "PTR of a StatefulSet pod", qname: "2.1.42.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"2.1.42.10.in-addr.arpa. IN PTR db-0.db.default.svc.cluster.local."}},
		{name: "PTR of an endpoint", qname: "5.0.42.10.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"5.0.42.10.in-addr.arpa. IN PTR 10-42-0-5.web.default.svc.cluster.local."}},
		{name: "PTR of an unused cluster IP", qname: "99.0.43.10.in-addr.arpa.", qtype: dns.TypePTR,
			rcode: dns.RcodeNameError, ns: "43.10.in-addr.arpa. IN SOA"},
		{name: "PTR outside the cluster is forwarded", qname: "1.2.0.192.in-addr.arpa.", qtype: dns.TypePTR,
			rcode: dns.RcodeNameError, notAA: true},
		{name: "outside name is forwarded", qname: "example.com.", qtype: dns.TypeA,
			answer: []string{"example.com. IN A 192.0.2.1"}, notAA: true},
		{name: "unknown outside name", qname: "nothing.example.", qtype: dns.TypeA, rcode: dns.RcodeNameError, notAA: true},
	}
	for _, tc := range tests {
		for _, proto := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				r := query(t, ts.addr, proto, tc.qname, tc.qtype, 0)
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
				}
				if r.Authoritative == tc.notAA {
					t.Errorf("authoritative %v, want %v", r.Authoritative, !tc.notAA)
				}
				got := rrStrings(r.Answer)
				for i, s := range got { // the serial is the time of the last change
					if soa, ok := r.Answer[i].(*dns.SOA); ok {
						got[i] = replaceSerial(s, soa.Serial)
					}
				}
				want := slices.Sorted(slices.Values(tc.answer))
				if !slices.Equal(got, want) {
					t.Errorf("answer\n%q\nwant\n%q", got, want)
				}
				if tc.extra != nil {
					if got, want := rrStrings(r.Extra), slices.Sorted(slices.Values(tc.extra)); !slices.Equal(got, want) {
						t.Errorf("extra\n%q\nwant\n%q", got, want)
					}
				}
				if tc.ns != "" {
					if len(r.Ns) != 1 || !strings.HasPrefix(rrStrings(r.Ns)[0], tc.ns) {
						t.Errorf("authority %v, want %q...", r.Ns, tc.ns)
					}
				}
				for _, rr := range r.Answer {
					if tc.notAA {
						break
					}
					if ttl := rr.Header().Ttl; ttl != 5 && dns.IsSubDomain("cluster.local.", strings.ToLower(rr.Header().Name)) {
						t.Errorf("TTL %d, want 5: %v", ttl, rr)
					}
				}
			})
		}
	}
}

// replaceSerial puts a placeholder for an SOA's serial.
func replaceSerial(s string, serial uint32) string {
	return strings.Replace(s, " "+itoa(int(serial))+" ", " SERIAL ", 1)
}

// TestFollowsAPI changes the cluster through the API and waits for the
// answers to follow, within the second the issue allows.
func TestFollowsAPI(t *testing.T) {
	ts := startServer(t)
	ctx := t.Context()
	name := "late.default.svc.cluster.local."
	svcs := ts.client.CoreV1().Services("default")
	epSlices := ts.client.DiscoveryV1().EndpointSlices("default")

	steps := []struct {
		what   string
		change func() error
		qname  string
		want   []string // A records; nil means NXDOMAIN
	}{
		{"Service created", func() error {
			_, err := svcs.Create(ctx, service("default", "late", "10.43.0.30", port{"http", 80, corev1.ProtocolTCP}), metav1.CreateOptions{})
			return err
		}, name, []string{"10.43.0.30"}},
		{"Service made headless", func() error {
			if err := svcs.Delete(ctx, "late", metav1.DeleteOptions{}); err != nil {
				return err
			}
			_, err := svcs.Create(ctx, service("default", "late", "None", port{"http", 80, corev1.ProtocolTCP}), metav1.CreateOptions{})
			return err
		}, name, []string{}},
		{"endpoint added", func() error {
			_, err := epSlices.Create(ctx, slice("default", "late", "late-1", []ep{{"10.42.3.3", "late-0", true}}), metav1.CreateOptions{})
			return err
		}, name, []string{"10.42.3.3"}},
		{"second slice", func() error {
			_, err := epSlices.Create(ctx, slice("default", "late", "late-2", []ep{{"10.42.3.4", "", true}}), metav1.CreateOptions{})
			return err
		}, name, []string{"10.42.3.3", "10.42.3.4"}},
		{"endpoint not ready", func() error {
			_, err := epSlices.Update(ctx, slice("default", "late", "late-1", []ep{{"10.42.3.3", "late-0", false}}), metav1.UpdateOptions{})
			return err
		}, "late-0." + name, nil},
		{"slice deleted", func() error { return epSlices.Delete(ctx, "late-2", metav1.DeleteOptions{}) }, name, []string{}},
		{"Service deleted", func() error { return svcs.Delete(ctx, "late", metav1.DeleteOptions{}) }, name, nil},
	}
	for _, step := range steps {
		start := time.Now()
		if err := step.change(); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		var got []string
		var rcode int
		for {
			r := query(t, ts.addr, "udp", step.qname, dns.TypeA, 0)
			rcode, got = r.Rcode, nil
			for _, rr := range r.Answer {
				got = append(got, rr.(*dns.A).A.String())
			}
			slices.Sort(got)
			if step.want == nil && rcode == dns.RcodeNameError || step.want != nil && rcode == dns.RcodeSuccess && slices.Equal(got, step.want) {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("%s: after 1 s %s %v, want %v", step.what, dns.RcodeToString[rcode], got, step.want)
			}
			time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
		}
	}
}

// TestTruncation: a headless Service with more endpoints than fit in 512
// bytes answers with TC over UDP, everything over TCP and with EDNS0.
func TestTruncation(t *testing.T) {
	var eps []ep
	for i := range 100 {
		eps = append(eps, ep{"10.42.9." + itoa(i+1), "", true})
	}
	ts := startServer(t, service("default", "many", "None"), slice("default", "many", "many-1", eps))
	name := "many.default.svc.cluster.local."
	if r := query(t, ts.addr, "udp", name, dns.TypeA, 0); !r.Truncated || len(r.Answer) == 100 {
		t.Errorf("UDP without EDNS0: TC %v with %d answers, want TC and fewer", r.Truncated, len(r.Answer))
	}
	if r := query(t, ts.addr, "udp", name, dns.TypeA, 4096); r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Errorf("UDP with EDNS0 4096: TC %v with %d answers (OPT %v), want all 100", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	if r := query(t, ts.addr, "tcp", name, dns.TypeA, 0); r.Truncated || len(r.Answer) != 100 {
		t.Errorf("TCP: TC %v with %d answers, want all 100", r.Truncated, len(r.Answer))
	}
}

// TestForwardTCP: an upstream answer truncated over UDP is asked again over
// TCP; a client on TCP is forwarded over TCP.
func TestForwardTCP(t *testing.T) {
	ts := startServer(t)
	r := query(t, ts.addr, "udp", "big.example.", dns.TypeA, 4096)
	if r.Truncated || len(r.Answer) != 60 {
		t.Fatalf("TC %v with %d answers, want all 60", r.Truncated, len(r.Answer))
	}
	if n := ts.upstream.count("tcp"); n != 1 {
		t.Errorf("upstream saw %d TCP queries, want 1 (the retry)", n)
	}
	udp := ts.upstream.count("udp")
	query(t, ts.addr, "tcp", "example.com.", dns.TypeA, 0)
	if n := ts.upstream.count("tcp"); n != 2 || ts.upstream.count("udp") != udp {
		t.Errorf("a TCP client's query went to the upstream over UDP")
	}
}

// TestServfail: with no upstream answering, names outside the cluster get
// SERVFAIL and the cluster's still answer.
func TestServfail(t *testing.T) {
	ts := startServerWith(t, Config{Upstreams: []string{closedPort(t)}, UpstreamTimeout: 500 * time.Millisecond}, nil,
		service("default", "web", "10.43.0.20"))
	if r := query(t, ts.addr, "udp", "example.com.", dns.TypeA, 0); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if r := query(t, ts.addr, "udp", "web.default.svc.cluster.local.", dns.TypeA, 0); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("cluster name: %v", r)
	}
	noUpstreams := startServerWith(t, Config{}, nil)
	if r := query(t, noUpstreams.addr, "udp", "example.com.", dns.TypeA, 0); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("no upstreams: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

// TestRunStops: Run returns when its context ends and the port is free.
func TestRunStops(t *testing.T) {
	ts := startServer(t)
	srv, err := New(Config{Informers: ts.srv.cfg.Informers, Addresses: ts.srv.cfg.Addresses, ResolvConf: "/nonexistent", Logger: ts.srv.cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	<-srv.Ready()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
}
