// Command proxybench measures the service proxy at scale: it programs
// 5,000 Services with 20,000 endpoints in a fresh network namespace, then
// changes one EndpointSlice at a time and measures how long it takes until
// the new endpoint is live in the kernel: until the kernel announces the
// committed transaction that carries the new endpoint's address (a map
// element or a rule), on an nftables monitor socket.
// It needs root. `make bench` runs it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	v1 "k8s.io/api/core/v1"
	discovery "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/benchutil"
	"mini.dev/mini/internal/netnsutil"
	"mini.dev/mini/internal/proxy"
)

const table = "mini-proxybench"

func main() { os.Exit(run()) }

func run() int {
	services := flag.Int("services", 5000, "Services")
	perService := flag.Int("endpoints", 4, "endpoints per Service")
	changes := flag.Int("changes", 200, "EndpointSlice changes measured")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "proxybench: needs root (network namespace, nftables)")
		return 1
	}
	if err := bench(*services, *perService, *changes); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		return 1
	}
	return 0
}

func bench(nSvc, perSvc, nChanges int) error {
	objs := make([]kruntime.Object, 0, 2*nSvc)
	for i := range nSvc {
		objs = append(objs, service(i), endpointSlice(i, perSvc, 0))
	}
	client := fake.NewClientset(objs...)
	objs = nil
	factory := informers.NewSharedInformerFactory(client, 0)
	defer factory.Shutdown()
	p, err := proxy.New(proxy.Config{
		Informers: factory, NodeName: "bench-node", Table: table,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})),
	})
	if err != nil {
		return err
	}
	ns, err := netnsutil.New()
	if err != nil {
		return err
	}
	defer ns.Close()

	runtime.GC()
	debug.FreeOSMemory()
	rssBefore := rss()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- netnsutil.Do(ns, func() error { return p.Run(ctx) }) }()
	defer func() { cancel(); <-done }()
	select {
	case <-p.Ready():
	case err := <-done:
		return fmt.Errorf("proxy stopped: %w", err)
	case <-time.After(5 * time.Minute):
		return errors.New("first sync took over 5 minutes")
	}
	initial := time.Since(start)

	events, stop, err := monitorIn(ns)
	if err != nil {
		return err
	}
	defer stop()

	// measure applies one EndpointSlice and waits until its first
	// endpoint's address is live.
	measure := func(c int, s *discovery.EndpointSlice) (time.Duration, error) {
		ip := netip.MustParseAddr(s.Endpoints[0].Addresses[0]).As4()
		t0 := time.Now()
		if _, err := client.DiscoveryV1().EndpointSlices(s.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			return 0, err
		}
		deadline := time.NewTimer(10 * time.Second)
		defer deadline.Stop()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return 0, fmt.Errorf("change %d: monitor closed", c)
				}
				if carries(ev, ip[:]) {
					return time.Since(t0), nil
				}
			case <-deadline.C:
				return 0, fmt.Errorf("change %d: endpoint %s not live after 10s", c, s.Endpoints[0].Addresses[0])
			}
		}
	}
	// A pod replaced by another: the number of endpoints stays.
	lat := make([]time.Duration, 0, nChanges)
	for c := range nChanges {
		d, err := measure(c, endpointSlice((c*7919)%nSvc, perSvc, c+1))
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	// A pod added (scale-up): the number of endpoints changes, and with
	// it the Service's balancing rule.
	grown := make([]time.Duration, 0, nChanges/2)
	for c := range nChanges / 2 {
		s := endpointSlice((c*7919+1)%nSvc, perSvc, 0)
		ip := netip.AddrFrom4([4]byte{10, 45, byte(c >> 8), byte(c)})
		s.ResourceVersion = "grow-" + strconv.Itoa(c)
		s.Endpoints = append([]discovery.Endpoint{{Addresses: []string{ip.String()}, NodeName: ptr.To("bench-node"),
			Conditions: discovery.EndpointConditions{Ready: ptr.To(true)}}}, s.Endpoints...)
		d, err := measure(c, s)
		if err != nil {
			return err
		}
		grown = append(grown, d)
	}
	runtime.GC()
	rssAfter := rss()

	slices.Sort(lat)
	slices.Sort(grown)
	pct := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	p99 := pct(0.99)
	grownPct := func(q float64) string {
		if len(grown) == 0 {
			return "-"
		}
		return grown[min(len(grown)-1, int(q*float64(len(grown))))].Round(10 * time.Microsecond).String()
	}
	scale := fmt.Sprintf("%d Services / %d endpoints", nSvc, nSvc*perSvc)
	benchutil.PrintTable(os.Stdout, []benchutil.Row{
		{What: "initial full sync (" + scale + ")", Figure: initial.Round(time.Millisecond).String()},
		{What: "endpoint change live, p50", Figure: pct(0.50).Round(10 * time.Microsecond).String()},
		{What: "endpoint change live, p99", Figure: p99.Round(10 * time.Microsecond).String(), Target: "< 50ms", Verdict: benchutil.Verdict(p99 < 50*time.Millisecond)},
		{What: "endpoint change live, max", Figure: lat[len(lat)-1].Round(10 * time.Microsecond).String()},
		{What: "endpoint added (balancing rule rewritten) live, p50", Figure: grownPct(0.50)},
		{What: "endpoint added (balancing rule rewritten) live, p99", Figure: grownPct(0.99)},
		{What: "proxy RSS delta (informers + state, after changes)", Figure: fmt.Sprintf("%.1f MiB", float64(rssAfter-rssBefore)/(1<<20))},
	})
	return nil
}

func service(i int) *v1.Service {
	ip := netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)}).String()
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "svc-" + strconv.Itoa(i), ResourceVersion: "1"},
		Spec: v1.ServiceSpec{
			Type: v1.ServiceTypeClusterIP, ClusterIP: ip, ClusterIPs: []string{ip},
			Ports: []v1.ServicePort{{Name: "http", Protocol: v1.ProtocolTCP, Port: 80}},
		},
	}
}

// endpointSlice gives Service i perSvc endpoints; generation g > 0 moves
// the first one to a new address, as a pod replaced by another would.
func endpointSlice(i, perSvc, g int) *discovery.EndpointSlice {
	s := &discovery.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: "bench", Name: "svc-" + strconv.Itoa(i) + "-abc",
			ResourceVersion: strconv.Itoa(g + 1),
			Labels:          map[string]string{discovery.LabelServiceName: "svc-" + strconv.Itoa(i)}},
		AddressType: discovery.AddressTypeIPv4,
		Ports:       []discovery.EndpointPort{{Name: ptr.To("http"), Protocol: ptr.To(v1.ProtocolTCP), Port: ptr.To[int32](8080)}},
	}
	for e := range perSvc {
		n := i*perSvc + e
		ip := netip.AddrFrom4([4]byte{10, 42, byte(n >> 8), byte(n)})
		if e == 0 && g > 0 {
			ip = netip.AddrFrom4([4]byte{10, 44, byte(g >> 8), byte(g)})
		}
		s.Endpoints = append(s.Endpoints, discovery.Endpoint{
			Addresses:  []string{ip.String()},
			NodeName:   ptr.To("bench-node"),
			Conditions: discovery.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return s
}

// monitorIn subscribes to nftables changes in ns. The socket is made on a
// thread inside ns and keeps belonging to it.
func monitorIn(ns netns.NsHandle) (ch chan *nftables.MonitorEvents, stop func(), err error) {
	mon := nftables.NewMonitor(nftables.WithMonitorObject(nftables.MonitorObjectElements|nftables.MonitorObjectRules),
		nftables.WithMonitorEventBuffer(1024))
	err = netnsutil.Do(ns, func() error {
		c, err := nftables.New()
		if err != nil {
			return err
		}
		ch, err = c.AddGenerationalMonitor(mon)
		return err
	})
	return ch, func() { mon.Close() }, err
}

// carries says whether a committed transaction added a map element or a
// rule (a DNAT's immediate address) holding ip.
func carries(ev *nftables.MonitorEvents, ip []byte) bool {
	for _, c := range ev.Changes {
		switch c.Type {
		case nftables.MonitorEventTypeNewSetElem:
			elems, _ := c.Data.([]nftables.SetElement)
			for _, e := range elems {
				if bytes.Contains(e.Val, ip) || bytes.Contains(e.Key, ip) {
					return true
				}
			}
		case nftables.MonitorEventTypeNewRule:
			r, _ := c.Data.(*nftables.Rule)
			if r == nil {
				continue
			}
			for _, e := range r.Exprs {
				if im, ok := e.(*expr.Immediate); ok && bytes.Equal(im.Data, ip) {
					return true
				}
			}
		}
	}
	return false
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func logLevel() slog.Level {
	if os.Getenv("PROXYBENCH_DEBUG") != "" {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}
