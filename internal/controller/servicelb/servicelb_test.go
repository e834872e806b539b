package servicelb

import (
	"context"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"

	"mini.dev/mini/internal/controller/controllertest"
)

// Test plan: nodes n1, n2, … with InternalIP 10.0.0.<i>; services in
// namespace "ns"; the pool is in 192.0.2.0/24.
const ns = "ns"

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

type nodeOpt func(*corev1.Node)

func notReady(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }
func excluded(n *corev1.Node) { n.Labels = map[string]string{excludeLabel: ""} }

func node(name, ip string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip},
			},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

type svcOpt func(*corev1.Service)

func clusterIP(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP }
func class(c string) svcOpt       { return func(s *corev1.Service) { s.Spec.LoadBalancerClass = &c } }
func requestIP(ip string) svcOpt  { return func(s *corev1.Service) { s.Spec.LoadBalancerIP = ip } }
func announcedBy(n string) svcOpt {
	return func(s *corev1.Service) { s.Annotations = map[string]string{NodeAnnotation: n} }
}
func withStatus(ips ...string) svcOpt {
	return func(s *corev1.Service) {
		var addrs []netip.Addr
		for _, ip := range ips {
			addrs = append(addrs, netip.MustParseAddr(ip))
		}
		s.Status.LoadBalancer.Ingress = ingressOf(addrs)
	}
}
func createdAt(min int) svcOpt {
	return func(s *corev1.Service) {
		s.CreationTimestamp = metav1.NewTime(epoch.Add(time.Duration(min) * time.Minute))
	}
}

func svc(name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1", CreationTimestamp: metav1.NewTime(epoch)},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.43.0.20",
			Ports: []corev1.ServicePort{{Port: 80}}},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	events  *controllertest.Recorder
	factory informers.SharedInformerFactory
}

// newFixture builds a controller whose caches hold objs (not started:
// tests drive sync directly), as Run has it after its caches synced.
func newFixture(t *testing.T, pool string, objs ...runtime.Object) *fixture {
	t.Helper()
	client := controllertest.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	events := &controllertest.Recorder{}
	c, err := New(Config{Client: client, Informers: factory, Recorder: events, Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{c: c, client: client, events: events, factory: factory}
	for _, o := range objs {
		f.cache(t, o)
	}
	c.loadAllocations()
	return f
}

// cache puts o into the informer cache, as a watch event would.
func (f *fixture) cache(t *testing.T, o runtime.Object) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *corev1.Service:
		err = f.factory.Core().V1().Services().Informer().GetIndexer().Update(o)
	case *corev1.Node:
		err = f.factory.Core().V1().Nodes().Informer().GetIndexer().Update(o)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) sync(t *testing.T, name string) {
	t.Helper()
	if err := f.c.sync(context.Background(), ns+"/"+name); err != nil {
		t.Fatalf("sync %s: %v", name, err)
	}
	// What the informer would deliver next.
	s, err := f.client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err == nil {
		f.cache(t, s)
	}
}

func (f *fixture) get(t *testing.T, name string) *corev1.Service {
	t.Helper()
	s, err := f.client.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ingressIPs(s *corev1.Service) []string {
	var out []string
	for _, i := range s.Status.LoadBalancer.Ingress {
		if i.IPMode == nil || *i.IPMode != corev1.LoadBalancerIPModeVIP {
			out = append(out, i.IP+" (not VIP)")
			continue
		}
		out = append(out, i.IP)
	}
	return out
}

var (
	ensured    = []string{"Normal EnsuringLoadBalancer Ensuring load balancer", "Normal EnsuredLoadBalancer Ensured load balancer"}
	readyNodes = []runtime.Object{node("n1", "10.0.0.2"), node("n2", "10.0.0.1"), node("n3", "10.0.0.3", notReady), node("n4", "10.0.0.4", excluded)}
	hashed     = func(key string) string { return chooseNode(key, "", []*corev1.Node{node("n1", ""), node("n2", "")}) }
	otherOf    = func(n string) string { return map[string]string{"n1": "n2", "n2": "n1"}[n] }
	failedFor  = func(svc, why string) string {
		return `Warning AllocationFailed Failed to allocate IP for "ns/` + svc + `": ` + why
	}
	exhausted = "no available IPs in the pool 192.0.2.10-192.0.2.10"
)

// want is one Service's expected state after the syncs.
type want struct {
	ingress []string
	node    string
}

func TestSync(t *testing.T) {
	tests := []struct {
		name     string
		pool     string
		objs     []runtime.Object
		sync     []string
		want     map[string]want
		events   []string
		noWrites bool
	}{{
		name:   "no pool: the Ready, not excluded nodes' InternalIPs, sorted",
		objs:   append(slices.Clone(readyNodes), svc("a")),
		sync:   []string{"a"},
		want:   map[string]want{"a": {ingress: []string{"10.0.0.1", "10.0.0.2"}}},
		events: ensured,
	}, {
		name:     "no pool: up to date, nothing written",
		objs:     append(slices.Clone(readyNodes), svc("a", withStatus("10.0.0.1", "10.0.0.2"))),
		sync:     []string{"a"},
		want:     map[string]want{"a": {ingress: []string{"10.0.0.1", "10.0.0.2"}}},
		noWrites: true,
	}, {
		name:   "no pool: a stale announcer annotation goes",
		objs:   append(slices.Clone(readyNodes), svc("a", announcedBy("n1"), withStatus("10.0.0.1", "10.0.0.2"))),
		sync:   []string{"a"},
		want:   map[string]want{"a": {ingress: []string{"10.0.0.1", "10.0.0.2"}}},
		events: ensured,
	}, {
		name:     "a loadBalancerClass belongs to someone else",
		pool:     "192.0.2.10-192.0.2.20",
		objs:     append(slices.Clone(readyNodes), svc("a", class("example.com/lb"))),
		sync:     []string{"a"},
		want:     map[string]want{"a": {}},
		noWrites: true,
	}, {
		name:   "a Service no longer LoadBalancer loses its status and announcer",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a", clusterIP, announcedBy("n1"), withStatus("192.0.2.10"))),
		sync:   []string{"a"},
		want:   map[string]want{"a": {}},
		events: []string{"Normal DeletingLoadBalancer Deleting load balancer", "Normal DeletedLoadBalancer Deleted load balancer"},
	}, {
		name:     "a ClusterIP Service without status is left alone",
		objs:     append(slices.Clone(readyNodes), svc("a", clusterIP)),
		sync:     []string{"a"},
		want:     map[string]want{"a": {}},
		noWrites: true,
	}, {
		name:   "pool: first free address, announcer by hash over the Ready nodes",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a"), svc("b")),
		sync:   []string{"a", "b"},
		want:   map[string]want{"a": {[]string{"192.0.2.10"}, hashed("ns/a")}, "b": {[]string{"192.0.2.11"}, hashed("ns/b")}},
		events: append(slices.Clone(ensured), ensured...),
	}, {
		name:   "pool: loadBalancerIP honoured",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a", requestIP("192.0.2.15")), svc("b")),
		sync:   []string{"a", "b"},
		want:   map[string]want{"a": {[]string{"192.0.2.15"}, hashed("ns/a")}, "b": {[]string{"192.0.2.10"}, hashed("ns/b")}},
		events: append(slices.Clone(ensured), ensured...),
	}, {
		name:   "pool: loadBalancerIP outside the pool",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a", requestIP("192.0.2.99"))),
		sync:   []string{"a"},
		want:   map[string]want{"a": {}},
		events: []string{failedFor("a", "requested IP is not in the pool: 192.0.2.99 is not in 192.0.2.10-192.0.2.20")},
	}, {
		name: "pool: loadBalancerIP taken by another Service",
		pool: "192.0.2.10-192.0.2.20",
		objs: append(slices.Clone(readyNodes), svc("a"), svc("b", requestIP("192.0.2.10"))),
		sync: []string{"a", "b"},
		want: map[string]want{"a": {[]string{"192.0.2.10"}, hashed("ns/a")}, "b": {}},
		events: append(slices.Clone(ensured),
			failedFor("b", "requested IP is already allocated: 192.0.2.10 belongs to ns/a")),
	}, {
		name:   "pool: exhausted",
		pool:   "192.0.2.10-192.0.2.10",
		objs:   append(slices.Clone(readyNodes), svc("a"), svc("b")),
		sync:   []string{"a", "b"},
		want:   map[string]want{"a": {[]string{"192.0.2.10"}, hashed("ns/a")}, "b": {}},
		events: append(slices.Clone(ensured), failedFor("b", exhausted)),
	}, {
		name: "pool: addresses in statuses are kept across a restart, the oldest Service wins a duplicate",
		pool: "192.0.2.10-192.0.2.20",
		objs: append(slices.Clone(readyNodes),
			svc("new"),
			svc("old", createdAt(1), withStatus("192.0.2.10"), announcedBy("n1")),
			svc("dup", createdAt(2), withStatus("192.0.2.10"), announcedBy("n1")),
			svc("older", createdAt(0), withStatus("192.0.2.12"), announcedBy("n2"))),
		sync: []string{"new", "dup", "old", "older"},
		want: map[string]want{
			"new":   {[]string{"192.0.2.11"}, hashed("ns/new")},
			"dup":   {[]string{"192.0.2.13"}, "n1"},
			"old":   {[]string{"192.0.2.10"}, "n1"},
			"older": {[]string{"192.0.2.12"}, "n2"},
		},
		events: append(slices.Clone(ensured), ensured...),
	}, {
		name:     "pool: the announcer stays while it is Ready",
		pool:     "192.0.2.10-192.0.2.20",
		objs:     append(slices.Clone(readyNodes), svc("a", announcedBy(otherOf(hashed("ns/a"))), withStatus("192.0.2.10"))),
		sync:     []string{"a"},
		want:     map[string]want{"a": {[]string{"192.0.2.10"}, otherOf(hashed("ns/a"))}},
		noWrites: true,
	}, {
		name:   "pool: a NotReady announcer is replaced",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a", announcedBy("n3"), withStatus("192.0.2.10"))),
		sync:   []string{"a"},
		want:   map[string]want{"a": {[]string{"192.0.2.10"}, hashed("ns/a")}},
		events: ensured,
	}, {
		name:   "pool: a deleted announcer is replaced",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   append(slices.Clone(readyNodes), svc("a", announcedBy("gone"), withStatus("192.0.2.10"))),
		sync:   []string{"a"},
		want:   map[string]want{"a": {[]string{"192.0.2.10"}, hashed("ns/a")}},
		events: ensured,
	}, {
		name:   "pool: no Ready node, an address and no announcer",
		pool:   "192.0.2.10-192.0.2.20",
		objs:   []runtime.Object{node("n3", "10.0.0.3", notReady), svc("a", announcedBy("n3"))},
		sync:   []string{"a"},
		want:   map[string]want{"a": {ingress: []string{"192.0.2.10"}}},
		events: ensured,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.pool, tt.objs...)
			for _, name := range tt.sync {
				f.sync(t, name)
			}
			for name, w := range tt.want {
				s := f.get(t, name)
				if got := ingressIPs(s); !slices.Equal(got, w.ingress) {
					t.Errorf("%s: ingress %v, want %v", name, got, w.ingress)
				}
				if got := s.Annotations[NodeAnnotation]; got != w.node {
					t.Errorf("%s: announcer %q, want %q", name, got, w.node)
				}
			}
			if got := f.events.List(); !slices.Equal(got, tt.events) {
				t.Errorf("events\n got %q\nwant %q", got, tt.events)
			}
			if tt.noWrites {
				for _, a := range f.client.Actions() {
					if v := a.GetVerb(); v != "get" && v != "list" && v != "watch" {
						t.Errorf("unexpected %s %s", v, a.GetResource().Resource)
					}
				}
			}
		})
	}
}

// A freed address goes to a Service waiting for one.
func TestReleaseWakesPending(t *testing.T) {
	for _, how := range []string{"deleted", "no longer LoadBalancer"} {
		t.Run(how, func(t *testing.T) {
			f := newFixture(t, "192.0.2.10-192.0.2.10", node("n1", "10.0.0.1"), svc("a"), svc("b"))
			f.sync(t, "a")
			f.sync(t, "b")
			if got := ingressIPs(f.get(t, "b")); got != nil {
				t.Fatalf("b got %v from an exhausted pool", got)
			}
			for f.c.queue.Len() > 0 { // drop what the syncs queued
				k, _ := f.c.queue.Get()
				f.c.queue.Done(k)
			}
			a := f.get(t, "a")
			if how == "deleted" {
				if err := f.client.CoreV1().Services(ns).Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := f.factory.Core().V1().Services().Informer().GetIndexer().Delete(a); err != nil {
					t.Fatal(err)
				}
			} else {
				a.Spec.Type = corev1.ServiceTypeClusterIP
				a, err := f.client.CoreV1().Services(ns).Update(context.Background(), a, metav1.UpdateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				f.cache(t, a)
			}
			f.sync(t, "a")
			if k, _ := f.c.queue.Get(); k != "ns/b" {
				t.Fatalf("queued %q after the release, want ns/b", k)
			}
			f.sync(t, "b")
			if got := ingressIPs(f.get(t, "b")); !slices.Equal(got, []string{"192.0.2.10"}) {
				t.Errorf("b: ingress %v after a released it, want 192.0.2.10", got)
			}
		})
	}
}

func TestNodeChanged(t *testing.T) {
	base := node("n1", "10.0.0.1")
	tests := []struct {
		name string
		mod  func(*corev1.Node)
		want bool
	}{
		{"heartbeat", func(n *corev1.Node) { n.Status.Conditions[0].LastHeartbeatTime = metav1.Now() }, false},
		{"NotReady", notReady, true},
		{"excluded", excluded, true},
		{"new address", func(n *corev1.Node) { n.Status.Addresses[1].Address = "10.0.0.9" }, true},
		{"being deleted", func(n *corev1.Node) { now := metav1.Now(); n.DeletionTimestamp = &now }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base.DeepCopy()
			tt.mod(cur)
			if got := nodeChanged(base, cur); got != tt.want {
				t.Errorf("nodeChanged = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestChooseNodeSpreads(t *testing.T) {
	nodes := []*corev1.Node{node("n1", ""), node("n2", ""), node("n3", "")}
	seen := map[string]int{}
	for _, k := range []string{"ns/a", "ns/b", "ns/c", "ns/d", "ns/e", "ns/f", "ns/g", "ns/h", "ns/i", "ns/j"} {
		n := chooseNode(k, "", nodes)
		if again := chooseNode(k, "", slices.Clone(nodes)); again != n {
			t.Errorf("%s: %s then %s", k, n, again)
		}
		seen[n]++
	}
	if len(seen) < 2 {
		t.Errorf("ten services all on %v", seen)
	}
	if got := chooseNode("ns/a", "", nil); got != "" {
		t.Errorf("no nodes: %q", got)
	}
}

func TestParsePool(t *testing.T) {
	tests := []struct {
		in          string
		first, last string
		err         bool
	}{
		{in: ""},
		{in: "192.0.2.10-192.0.2.20", first: "192.0.2.10", last: "192.0.2.20"},
		{in: " 192.0.2.10 - 192.0.2.10 ", first: "192.0.2.10", last: "192.0.2.10"},
		{in: "192.0.2.20-192.0.2.10", err: true},
		{in: "192.0.2.10", err: true},
		{in: "192.0.2.0/24", err: true},
		{in: "2001:db8::1-2001:db8::9", err: true},
		{in: "a-b", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePool(tt.in)
			if tt.err {
				if err == nil {
					t.Fatalf("parsePool(%q) = %v, want an error", tt.in, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.first == "" {
				if p != nil {
					t.Errorf("want no pool, got %v", p)
				}
				return
			}
			if p.first.String() != tt.first || p.last.String() != tt.last {
				t.Errorf("pool %s-%s, want %s-%s", p.first, p.last, tt.first, tt.last)
			}
		})
	}
	if _, err := New(Config{Client: fake.NewClientset(), Informers: informers.NewSharedInformerFactory(fake.NewClientset(), 0), Pool: "x"}); err == nil {
		t.Error("New accepted a bad pool")
	}
}

func TestPoolAllocate(t *testing.T) {
	p, _ := parsePool("192.0.2.1-192.0.2.3")
	steps := []struct {
		key, requested string
		want           string
		err            bool
	}{
		{key: "a", want: "192.0.2.1"},
		{key: "a", want: "192.0.2.1"}, // stable
		{key: "b", requested: "192.0.2.3", want: "192.0.2.3"},
		{key: "c", want: "192.0.2.2"},
		{key: "d", err: true},
		{key: "a", requested: "192.0.2.3", err: true}, // b's
		{key: "a", requested: "192.0.2.9", err: true},
	}
	for i, s := range steps {
		var req netip.Addr
		if s.requested != "" {
			req = netip.MustParseAddr(s.requested)
		}
		got, err := p.allocate(s.key, req)
		if (err != nil) != s.err || (!s.err && got.String() != s.want) {
			t.Fatalf("step %d: allocate(%s, %s) = %v, %v; want %s (error %v)", i, s.key, s.requested, got, err, s.want, s.err)
		}
	}
	if !p.release("b") || p.release("b") {
		t.Error("release b: want true once")
	}
	if got, err := p.allocate("a", netip.MustParseAddr("192.0.2.3")); err != nil || got.String() != "192.0.2.3" {
		t.Errorf("a moving to the freed 192.0.2.3: %v, %v", got, err)
	}
	if got, err := p.allocate("d", netip.Addr{}); err != nil || got.String() != "192.0.2.1" {
		t.Errorf("d after a moved: %v, %v; want a's old 192.0.2.1", got, err)
	}
	if !reflect.DeepEqual(len(p.owner), len(p.addr)) {
		t.Errorf("owner %v and addr %v disagree", p.owner, p.addr)
	}
}
