// Command dnsbench measures the cluster DNS as a pod sees it: the server
// runs in-process on a fake API holding many Services, inside a "node"
// network namespace on its dummy link, and N concurrent clients query
// 10.43.0.10 from a "pod" namespace joined to it by a veth, for a few
// seconds. It prints queries/s, p50 and p99 latency and the resident
// memory the server added. It needs root (network namespaces).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/benchutil"
	"mini.dev/mini/internal/dns"
	"mini.dev/mini/internal/netnsutil"
)

// The bench's IP plan, as in the package's root test.
const (
	nodeVethIP  = "192.0.2.1"
	podVethIP   = "192.0.2.2"
	serviceCIDR = "10.43.0.0/16"
	clusterDNS  = "10.43.0.10"
	p99Target   = 2 * time.Millisecond
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dnsbench:", err)
		os.Exit(1)
	}
}

func run() error {
	services := flag.Int("services", 1000, "ClusterIP Services")
	headless := flag.Int("headless", 100, "headless Services, 3 endpoints each")
	clients := flag.String("clients", "1,8,32", "concurrent clients, one run each")
	duration := flag.Duration("duration", 3*time.Second, "length of each run")
	flag.Parse()
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces)")
	}
	var concurrency []int
	for _, s := range strings.Split(*clients, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-clients: %q", s)
		}
		concurrency = append(concurrency, n)
	}

	client := fake.NewClientset(objects(*services, *headless)...)
	runtime.GC()
	before, err := benchutil.ReadMemory(os.Getpid())
	if err != nil {
		return err
	}

	node, err := netnsutil.New()
	if err != nil {
		return err
	}
	defer node.Close()
	pod, err := netnsutil.New()
	if err != nil {
		return err
	}
	defer pod.Close()
	// The pod's route to the Service CIDR goes via the node, as a pod's
	// default route goes to its node.
	if err := netnsutil.AddVeth(netnsutil.End{NS: node, Name: "veth-pod", Addrs: []string{nodeVethIP + "/24"}},
		netnsutil.End{NS: pod, Name: "eth0", Addrs: []string{podVethIP + "/24"}}); err != nil {
		return err
	}
	if err := netnsutil.AddRoute(pod, serviceCIDR, nodeVethIP); err != nil {
		return err
	}

	var srv *dns.Server
	err = netnsutil.Do(node, func() error {
		srv, err = dns.New(dns.Config{
			Informers: informers.NewSharedInformerFactory(client, 0),
			Addresses: []netip.Addr{netip.MustParseAddr(clusterDNS)},
			Port:      dns.DefaultPort,
			Device:    dns.DefaultDevice,
			Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			// The bench's queries are all in the cluster; nothing goes out.
			Upstreams: []string{net.JoinHostPort(podVethIP, "1")},
		})
		return err
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		srv.Close()
	}()
	select {
	case <-srv.Ready():
	case err := <-done:
		done <- err // for the deferred stop
		return err
	}
	syncTime := time.Since(start)

	names := queryNames(*services, *headless)
	rows := []benchutil.Row{{
		What:   fmt.Sprintf("index built from %d Services (%d headless)", *services+*headless, *headless),
		Figure: benchutil.Seconds(syncTime),
	}}
	for _, n := range concurrency {
		lat, queries, errs, err := load(pod, names, n, *duration)
		if err != nil {
			return err
		}
		s := lat.Sorted()
		p99 := s.Percentile(99)
		what := fmt.Sprintf("%d client(s), pod netns -> %s", n, clusterDNS)
		rows = append(rows,
			benchutil.Row{What: what + ": queries/s", Figure: fmt.Sprintf("%.0f (%d errors)", float64(queries)/duration.Seconds(), errs)},
			benchutil.Row{What: what + ": p50", Figure: fmt.Sprintf("%.3f ms", benchutil.Ms(s.Percentile(50)))},
			benchutil.Row{What: what + ": p99", Figure: fmt.Sprintf("%.3f ms", benchutil.Ms(p99)), Target: "< 2 ms", Verdict: benchutil.Verdict(p99 < p99Target)},
		)
	}
	runtime.GC()
	after, err := benchutil.ReadMemory(os.Getpid())
	if err != nil {
		return err
	}
	rows = append(rows, benchutil.Row{
		What:   "RSS delta: informer caches + index + serving",
		Figure: fmt.Sprintf("%.1f MiB", benchutil.MiB(after.RSS-before.RSS)),
	})
	benchutil.PrintTable(os.Stdout, rows)
	return nil
}

// objects are the fake API's content: ClusterIP Services with two ready
// endpoints each, headless Services with three named pods each.
func objects(services, headless int) []kruntime.Object {
	var objs []kruntime.Object
	tcp := corev1.ProtocolTCP
	for i := range services {
		ns := fmt.Sprintf("ns-%d", i%20)
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.43.%d.%d", 1+i/250, 1+i%250)
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: tcp}}},
		})
		objs = append(objs, endpointSlice(ns, name, "http", i, 2, false))
	}
	for i := range headless {
		ns := fmt.Sprintf("ns-%d", i%20)
		name := fmt.Sprintf("hl-%d", i)
		objs = append(objs, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None", ClusterIPs: []string{"None"},
				Ports: []corev1.ServicePort{{Name: "peer", Port: 7000, Protocol: tcp}}},
		})
		objs = append(objs, endpointSlice(ns, name, "peer", services+i, 3, true))
	}
	return objs
}

func endpointSlice(ns, svc, port string, i, n int, hostnames bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: svc + "-x1", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for j := range n {
		e := discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.42.%d.%d", i/50, 2+(i%50)*4+j)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		}
		if hostnames {
			e.Hostname = ptr.To(fmt.Sprintf("%s-%d", svc, j))
		}
		s.Endpoints = append(s.Endpoints, e)
	}
	return s
}

type query struct {
	name  string
	qtype uint16
}

// queryNames is the mix a pod sends: mostly A of ClusterIP Services, some
// headless A and SRV, and the AAAA every resolver asks alongside (NODATA).
func queryNames(services, headless int) []query {
	var qs []query
	for i := range services {
		n := fmt.Sprintf("svc-%d.ns-%d.svc.cluster.local.", i, i%20)
		qs = append(qs, query{n, mdns.TypeA}, query{n, mdns.TypeAAAA})
	}
	for i := range headless {
		n := fmt.Sprintf("hl-%d.ns-%d.svc.cluster.local.", i, i%20)
		qs = append(qs, query{n, mdns.TypeA}, query{"_peer._tcp." + n, mdns.TypeSRV})
	}
	return qs
}

// load runs n clients, each with its own UDP socket made in the pod
// namespace, sending one query at a time until d has passed.
func load(pod netns.NsHandle, qs []query, n int, d time.Duration) (benchutil.Latencies, int, int, error) {
	conns := make([]*net.UDPConn, n)
	err := netnsutil.Do(pod, func() error {
		for i := range conns {
			c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(clusterDNS+":53")))
			if err != nil {
				return err
			}
			conns[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, 0, 0, err
	}
	var mu sync.Mutex
	var all benchutil.Latencies
	var errs int
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			lat, e := client(c, qs, rand.New(rand.NewPCG(uint64(i), 1)), deadline)
			mu.Lock()
			all = append(all, lat...)
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, len(all), errs, nil
}

func client(c *net.UDPConn, qs []query, rng *rand.Rand, deadline time.Time) (benchutil.Latencies, int) {
	var lat benchutil.Latencies
	errs := 0
	buf := make([]byte, 4096)
	for id := uint16(1); time.Now().Before(deadline); id++ {
		q := qs[rng.IntN(len(qs))]
		m := new(mdns.Msg).SetQuestion(q.name, q.qtype)
		m.Id = id
		out, err := m.Pack()
		if err != nil {
			errs++
			continue
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(time.Second))
		if _, err := c.Write(out); err != nil {
			errs++
			continue
		}
		nr, err := c.Read(buf)
		took := time.Since(start)
		r := new(mdns.Msg)
		if err != nil || r.Unpack(buf[:nr]) != nil || r.Id != id || r.Rcode != mdns.RcodeSuccess ||
			(q.qtype != mdns.TypeAAAA && len(r.Answer) == 0) {
			errs++
			continue
		}
		lat = append(lat, took)
	}
	return lat, errs
}
