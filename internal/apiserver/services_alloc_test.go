package apiserver

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/registry"
)

// Test plan: services in 10.43.0.0/24 (10.43.0.1-10.43.0.254, the first 16
// kept for requests), node ports 30000-30099 (the first 16 kept).
const (
	testServiceCIDR = "10.43.0.0/24"
	testNodePorts   = "30000-30099"
)

func newTestServiceAllocator(t *testing.T) *serviceAllocator {
	t.Helper()
	a, err := newServiceAllocator(testServiceCIDR, testNodePorts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// testService is a ClusterIP service with one TCP port 80, changed by mut.
func testService(mut func(*corev1.Service)) *corev1.Service {
	svc := &corev1.Service{}
	svc.Name, svc.Namespace = "web", "default"
	svc.Spec.Selector = map[string]string{"app": "web"}
	svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}}
	if mut != nil {
		mut(svc)
	}
	return svc
}

func nodePort(svc *corev1.Service) { svc.Spec.Type = corev1.ServiceTypeNodePort }

func loadBalancer(policy corev1.ServiceExternalTrafficPolicy) func(*corev1.Service) {
	return func(svc *corev1.Service) {
		svc.Spec.Type = corev1.ServiceTypeLoadBalancer
		svc.Spec.ExternalTrafficPolicy = policy
	}
}

func externalName(svc *corev1.Service) {
	svc.Spec.Type = corev1.ServiceTypeExternalName
	svc.Spec.ExternalName = "db.example.com"
}

// createService runs the registry's preparation, the allocation and the
// registry's validation, as a create does.
func createService(t *testing.T, a *serviceAllocator, svc *corev1.Service) (allocation, error) {
	t.Helper()
	res := registry.Services()
	res.Default(svc)
	res.PrepareForCreate(svc)
	al, err := a.allocateCreate(svc)
	if err == nil {
		if errs := res.Validate(svc); len(errs) > 0 {
			t.Fatalf("allocated service is invalid: %v", errs.ToAggregate())
		}
	}
	return al, err
}

// updateService is createService for an update; on success the releases
// of a stored update follow.
func updateService(t *testing.T, a *serviceAllocator, svc, old *corev1.Service) error {
	t.Helper()
	res := registry.Services()
	res.Default(svc)
	res.PrepareForUpdate(svc, old, "")
	_, err := a.allocateUpdate(svc, old)
	if err != nil {
		return err
	}
	if errs := res.ValidateUpdate(svc, old); len(errs) > 0 {
		t.Fatalf("updated service is invalid: %v", errs.ToAggregate())
	}
	a.releaseUnused(svc, old)
	return nil
}

func ipTaken(a *serviceAllocator, s string) bool {
	off, ok := a.ips.offset(netip.MustParseAddr(s))
	return ok && bitSet(a.ips.alloc, off)
}

func portTaken(a *serviceAllocator, p int32) bool {
	return bitSet(a.ports.alloc, int(p)-a.ports.base)
}

func bitSet(al *allocator, i int) bool {
	al.mu.Lock()
	defer al.mu.Unlock()
	return al.used.Bit(i) == 1
}

func inUse(a *serviceAllocator) (ips, ports int) {
	return a.ips.alloc.size - a.ips.alloc.free, a.ports.alloc.size - a.ports.alloc.free
}

func TestServiceAllocateCreate(t *testing.T) {
	tests := []struct {
		name string
		svc  func(*corev1.Service)
		// taken before the create, by another service
		takenIP   string
		takenPort int
		wantErr   string
		// what the service holds afterwards
		wantIPs, wantPorts int
		check              func(t *testing.T, svc *corev1.Service)
	}{
		{name: "cluster IP picked above the static band", wantIPs: 1, check: func(t *testing.T, svc *corev1.Service) {
			ip := netip.MustParseAddr(svc.Spec.ClusterIP)
			if !slices.Equal(svc.Spec.ClusterIPs, []string{svc.Spec.ClusterIP}) || ip.As4()[3] <= 16 {
				t.Errorf("clusterIP %q clusterIPs %q", svc.Spec.ClusterIP, svc.Spec.ClusterIPs)
			}
		}},
		{name: "requested cluster IP", svc: func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.10" }, wantIPs: 1,
			check: func(t *testing.T, svc *corev1.Service) {
				if svc.Spec.ClusterIP != "10.43.0.10" || !slices.Equal(svc.Spec.ClusterIPs, []string{"10.43.0.10"}) {
					t.Errorf("clusterIPs %q", svc.Spec.ClusterIPs)
				}
			}},
		{name: "requested cluster IP taken", svc: func(s *corev1.Service) { s.Spec.ClusterIP = "10.43.0.5" }, takenIP: "10.43.0.5",
			wantErr: `spec.clusterIPs: Invalid value: ["10.43.0.5"]: failed to allocate IP 10.43.0.5: provided IP is already allocated`},
		{name: "requested cluster IP out of range", svc: func(s *corev1.Service) { s.Spec.ClusterIP = "10.44.0.5" },
			wantErr: `failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/24`},
		{name: "headless", svc: func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }, check: func(t *testing.T, svc *corev1.Service) {
			if !slices.Equal(svc.Spec.ClusterIPs, []string{"None"}) {
				t.Errorf("clusterIPs %q", svc.Spec.ClusterIPs)
			}
		}},
		{name: "external name", svc: externalName, check: func(t *testing.T, svc *corev1.Service) {
			if svc.Spec.ClusterIP != "" || len(svc.Spec.ClusterIPs) != 0 {
				t.Errorf("clusterIPs %q", svc.Spec.ClusterIPs)
			}
		}},
		{name: "node port picked above the static band", svc: nodePort, wantIPs: 1, wantPorts: 1, check: func(t *testing.T, svc *corev1.Service) {
			if p := svc.Spec.Ports[0].NodePort; p < 30016 || p > 30099 {
				t.Errorf("nodePort %d", p)
			}
		}},
		{name: "requested node port", svc: func(s *corev1.Service) { nodePort(s); s.Spec.Ports[0].NodePort = 30080 }, wantIPs: 1, wantPorts: 1,
			check: func(t *testing.T, svc *corev1.Service) {
				if svc.Spec.Ports[0].NodePort != 30080 {
					t.Errorf("nodePort %d", svc.Spec.Ports[0].NodePort)
				}
			}},
		{name: "requested node port taken", svc: func(s *corev1.Service) { nodePort(s); s.Spec.Ports[0].NodePort = 30080 }, takenPort: 30080,
			wantErr: `spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated`},
		{name: "requested node port out of range", svc: func(s *corev1.Service) { nodePort(s); s.Spec.Ports[0].NodePort = 31000 },
			wantErr: `spec.ports[0].nodePort: Invalid value: 31000: provided port is not in the valid range. The range of valid ports is 30000-30099`},
		{name: "one node port for a port number over two protocols", svc: func(s *corev1.Service) {
			nodePort(s)
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53}}
		}, wantIPs: 1, wantPorts: 1, check: func(t *testing.T, svc *corev1.Service) {
			if a, b := svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort; a == 0 || a != b {
				t.Errorf("nodePorts %d %d", a, b)
			}
		}},
		{name: "load balancer", svc: loadBalancer(corev1.ServiceExternalTrafficPolicyCluster), wantIPs: 1, wantPorts: 1,
			check: func(t *testing.T, svc *corev1.Service) {
				if svc.Spec.Ports[0].NodePort == 0 || svc.Spec.HealthCheckNodePort != 0 {
					t.Errorf("nodePort %d healthCheckNodePort %d", svc.Spec.Ports[0].NodePort, svc.Spec.HealthCheckNodePort)
				}
			}},
		{name: "load balancer without node ports honours requests", svc: func(s *corev1.Service) {
			loadBalancer(corev1.ServiceExternalTrafficPolicyCluster)(s)
			no := false
			s.Spec.AllocateLoadBalancerNodePorts = &no
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443, NodePort: 30043})
		}, wantIPs: 1, wantPorts: 1, check: func(t *testing.T, svc *corev1.Service) {
			if svc.Spec.Ports[0].NodePort != 0 || svc.Spec.Ports[1].NodePort != 30043 {
				t.Errorf("nodePorts %d %d", svc.Spec.Ports[0].NodePort, svc.Spec.Ports[1].NodePort)
			}
		}},
		{name: "load balancer keeping traffic local gets a health check port", svc: loadBalancer(corev1.ServiceExternalTrafficPolicyLocal),
			wantIPs: 1, wantPorts: 2, check: func(t *testing.T, svc *corev1.Service) {
				if hc := svc.Spec.HealthCheckNodePort; hc == 0 || hc == svc.Spec.Ports[0].NodePort {
					t.Errorf("healthCheckNodePort %d", hc)
				}
			}},
		{name: "requested health check port taken", svc: func(s *corev1.Service) {
			loadBalancer(corev1.ServiceExternalTrafficPolicyLocal)(s)
			s.Spec.HealthCheckNodePort = 30001
		}, takenPort: 30001, wantErr: `Internal error occurred: failed to allocate requested HealthCheck NodePort 30001: provided port is already allocated`},
		{name: "a later failure gives back the cluster IP", svc: func(s *corev1.Service) {
			nodePort(s)
			s.Spec.ClusterIP = "10.43.0.7"
			s.Spec.Ports[0].NodePort = 30080
		}, takenPort: 30080, wantErr: "provided port is already allocated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestServiceAllocator(t)
			if tt.takenIP != "" {
				if _, err := a.ips.allocate(netip.MustParseAddr(tt.takenIP)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.takenPort != 0 {
				if _, err := a.ports.allocate(tt.takenPort); err != nil {
					t.Fatal(err)
				}
			}
			ips0, ports0 := inUse(a)
			svc := testService(tt.svc)
			al, err := createService(t, a, svc)
			ips, ports := inUse(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if ips != ips0 || ports != ports0 {
					t.Errorf("a failed create holds %d IPs, %d ports", ips-ips0, ports-ports0)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ips-ips0 != tt.wantIPs || ports-ports0 != tt.wantPorts {
				t.Errorf("holds %d IPs, %d ports; want %d, %d", ips-ips0, ports-ports0, tt.wantIPs, tt.wantPorts)
			}
			if tt.check != nil {
				tt.check(t, svc)
			}
			// The write failed after all (dry run, store error): all back.
			a.undo(al)
			if ips, ports := inUse(a); ips != ips0 || ports != ports0 {
				t.Errorf("after undo: %d IPs, %d ports in use, want %d, %d", ips, ports, ips0, ports0)
			}
		})
	}
}

func TestServiceAllocateUpdate(t *testing.T) {
	tests := []struct {
		name    string
		old     func(*corev1.Service)
		change  func(*corev1.Service)
		takenIP string
		wantErr string
		// what the service holds after the stored update
		wantIPs, wantPorts int
		check              func(t *testing.T, svc, old *corev1.Service)
	}{
		{name: "no change", wantIPs: 1},
		{name: "ClusterIP to NodePort keeps the IP, adds a node port", change: nodePort, wantIPs: 1, wantPorts: 1,
			check: func(t *testing.T, svc, old *corev1.Service) {
				if svc.Spec.ClusterIP != old.Spec.ClusterIP || svc.Spec.Ports[0].NodePort == 0 {
					t.Errorf("clusterIP %s nodePort %d", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
				}
			}},
		{name: "NodePort to ClusterIP releases the node port", old: nodePort,
			change: func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }, wantIPs: 1,
			check: func(t *testing.T, svc, old *corev1.Service) {
				if svc.Spec.Ports[0].NodePort != 0 {
					t.Errorf("nodePort %d", svc.Spec.Ports[0].NodePort)
				}
			}},
		{name: "ClusterIP to ExternalName releases the IP", change: externalName},
		{name: "ExternalName to ClusterIP allocates an IP", old: externalName, change: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
		}, wantIPs: 1},
		{name: "ExternalName to ClusterIP with a taken IP", old: externalName, change: func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeClusterIP, ""
			s.Spec.ClusterIP = "10.43.0.9"
		}, takenIP: "10.43.0.9", wantErr: "failed to allocate IP 10.43.0.9: provided IP is already allocated"},
		{name: "NodePort to LoadBalancer keeps the node port", old: nodePort, change: loadBalancer(corev1.ServiceExternalTrafficPolicyCluster),
			wantIPs: 1, wantPorts: 1, check: func(t *testing.T, svc, old *corev1.Service) {
				if svc.Spec.Ports[0].NodePort != old.Spec.Ports[0].NodePort {
					t.Errorf("nodePort %d, was %d", svc.Spec.Ports[0].NodePort, old.Spec.Ports[0].NodePort)
				}
			}},
		{name: "a new port gets a node port, a removed one is released", old: nodePort, change: func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "https", Port: 443}}
		}, wantIPs: 1, wantPorts: 1, check: func(t *testing.T, svc, old *corev1.Service) {
			if p := svc.Spec.Ports[0].NodePort; p == 0 || p == old.Spec.Ports[0].NodePort {
				t.Errorf("nodePort %d, was %d", p, old.Spec.Ports[0].NodePort)
			}
		}},
		{name: "a node port changed by request", old: nodePort, change: func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30005 },
			wantIPs: 1, wantPorts: 1},
		{name: "traffic policy Local adds a health check port", old: loadBalancer(corev1.ServiceExternalTrafficPolicyCluster),
			change: func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }, wantIPs: 1, wantPorts: 2},
		{name: "traffic policy Cluster releases the health check port", old: loadBalancer(corev1.ServiceExternalTrafficPolicyLocal),
			change: func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster }, wantIPs: 1, wantPorts: 1,
			check: func(t *testing.T, svc, old *corev1.Service) {
				if svc.Spec.HealthCheckNodePort != 0 {
					t.Errorf("healthCheckNodePort %d", svc.Spec.HealthCheckNodePort)
				}
			}},
		{name: "LoadBalancer to ExternalName releases everything", old: loadBalancer(corev1.ServiceExternalTrafficPolicyLocal), change: externalName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestServiceAllocator(t)
			old := testService(tt.old)
			if _, err := createService(t, a, old); err != nil {
				t.Fatal(err)
			}
			old.ResourceVersion = "1" // stored
			if tt.takenIP != "" {
				if _, err := a.ips.allocate(netip.MustParseAddr(tt.takenIP)); err != nil {
					t.Fatal(err)
				}
			}
			ips0, ports0 := inUse(a)
			svc := old.DeepCopy()
			if tt.change != nil {
				tt.change(svc)
			}
			err := updateService(t, a, svc, old)
			ips, ports := inUse(a)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if ips != ips0 || ports != ports0 {
					t.Errorf("a failed update changed the allocators: %d IPs, %d ports, want %d, %d", ips, ports, ips0, ports0)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			extraIP := 0
			if tt.takenIP != "" {
				extraIP = 1
			}
			if ips-extraIP != tt.wantIPs || ports != tt.wantPorts {
				t.Errorf("holds %d IPs, %d ports; want %d, %d", ips-extraIP, ports, tt.wantIPs, tt.wantPorts)
			}
			wantIPs, wantPorts := held(svc)
			for _, ip := range wantIPs {
				if !ipTaken(a, ip) {
					t.Errorf("IP %s not held", ip)
				}
			}
			for _, p := range wantPorts {
				if !portTaken(a, int32(p)) {
					t.Errorf("port %d not held", p)
				}
			}
			if tt.check != nil {
				tt.check(t, svc, old)
			}
			// Deleting the service gives everything back.
			a.releaseAll(svc)
			if ips, ports := inUse(a); ips != extraIP || ports != 0 {
				t.Errorf("after delete: %d IPs, %d ports in use", ips, ports)
			}
		})
	}
}

// A failed update keeps what the old state held: releases wait for the
// stored write, and only the new allocations are undone.
func TestServiceUpdateUndo(t *testing.T) {
	a := newTestServiceAllocator(t)
	old := testService(loadBalancer(corev1.ServiceExternalTrafficPolicyLocal))
	if _, err := createService(t, a, old); err != nil {
		t.Fatal(err)
	}
	svc := old.DeepCopy()
	svc.Spec.Type = corev1.ServiceTypeNodePort
	svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: "https", Port: 443})
	res := registry.Services()
	res.Default(svc)
	res.PrepareForUpdate(svc, old, "")
	al, err := a.allocateUpdate(svc, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(al.ports) != 1 || int32(al.ports[0]) != svc.Spec.Ports[1].NodePort {
		t.Fatalf("took %v, want the new port's node port %d", al.ports, svc.Spec.Ports[1].NodePort)
	}
	a.undo(al) // the store refused the write
	if portTaken(a, svc.Spec.Ports[1].NodePort) {
		t.Error("undo kept the new node port")
	}
	for _, p := range []int32{old.Spec.Ports[0].NodePort, old.Spec.HealthCheckNodePort} {
		if !portTaken(a, p) {
			t.Errorf("old port %d released by a failed update", p)
		}
	}
	if !ipTaken(a, old.Spec.ClusterIP) {
		t.Error("old cluster IP released by a failed update")
	}
}

func TestServiceRestore(t *testing.T) {
	a := newTestServiceAllocator(t)
	stored := []*corev1.Service{
		testService(func(s *corev1.Service) {
			nodePort(s)
			s.Spec.ClusterIPs = []string{"10.43.0.20"}
			s.Spec.Ports[0].NodePort = 30020
		}),
		testService(func(s *corev1.Service) { // same IP and port: reported
			nodePort(s)
			s.Spec.ClusterIPs = []string{"10.43.0.20"}
			s.Spec.Ports[0].NodePort = 30020
		}),
		testService(func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.99.0.1"} }), // another CIDR: reported
		testService(func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"None"} }),
		testService(externalName),
		testService(func(s *corev1.Service) {
			loadBalancer(corev1.ServiceExternalTrafficPolicyLocal)(s)
			s.Spec.ClusterIPs = []string{"10.43.0.21"}
			s.Spec.Ports[0].NodePort = 30021
			s.Spec.HealthCheckNodePort = 30022
		}),
	}
	var problems []error
	for _, svc := range stored {
		problems = append(problems, a.restore(svc)...)
	}
	if len(problems) != 3 {
		t.Errorf("problems %v, want 3", problems)
	}
	if ips, ports := inUse(a); ips != 2 || ports != 3 {
		t.Errorf("%d IPs, %d ports in use, want 2, 3", ips, ports)
	}
	for _, ip := range []string{"10.43.0.20", "10.43.0.21"} {
		if !ipTaken(a, ip) {
			t.Errorf("%s free", ip)
		}
	}
}

func TestParseNodePortRange(t *testing.T) {
	tests := []struct {
		in          string
		first, last int
		bad         bool
	}{
		{in: "30000-32767", first: 30000, last: 32767},
		{in: "30000+2767", first: 30000, last: 32767},
		{in: "30000", first: 30000, last: 30000},
		{in: "32767-30000", bad: true},
		{in: "0-100", bad: true},
		{in: "30000-70000", bad: true},
		{in: "a-b", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		first, last, err := parseNodePortRange(tt.in)
		if (err != nil) != tt.bad || (!tt.bad && (first != tt.first || last != tt.last)) {
			t.Errorf("%q: %d %d %v", tt.in, first, last, err)
		}
	}
}

func TestStaticBand(t *testing.T) {
	tests := []struct{ size, step, most, want int }{
		{16, 16, 256, 0},        // a /28
		{256, 16, 256, 16},      // a /24
		{4096, 16, 256, 256},    // a /20
		{65536, 16, 256, 256},   // a /16
		{2768, 32, 128, 86},     // the default node ports
		{100, 32, 128, 16},      // a small node port range
		{1 << 30, 16, 256, 256}, // capped
	}
	for _, tt := range tests {
		if got := staticBand(tt.size, tt.step, tt.most); got != tt.want {
			t.Errorf("staticBand(%d, %d, %d) = %d, want %d", tt.size, tt.step, tt.most, got, tt.want)
		}
	}
}

// Random picks fill the upper band first, then the static band.
func TestTakeRandomPrefersUpperBand(t *testing.T) {
	al := newAllocator(32)
	for i := range 32 {
		off, err := takeRandom(al, 16)
		if err != nil {
			t.Fatal(err)
		}
		if (i < 16) != (off >= 16) {
			t.Fatalf("pick %d: offset %d", i, off)
		}
	}
	if _, err := takeRandom(al, 16); err != errRangeFull {
		t.Fatalf("full: %v", err)
	}
}
