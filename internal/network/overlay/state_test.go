package overlay

import (
	"net"
	"net/netip"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The unit tests' IP plan: this node is "self" with 10.42.1.0/24 on
// 192.0.2.1; peers are nodes 2, 3, … with 10.42.N.0/24 on 192.0.2.N and
// VTEP MAC 02:00:00:00:00:0N. Device index 7, underlay index 2.
const (
	selfName = "self"
	devIdx   = 7
	underIdx = 2
)

var (
	selfCIDR = netip.MustParsePrefix("10.42.1.0/24")
	selfIP   = netip.MustParseAddr("192.0.2.1")
)

type nodeOpt func(*corev1.Node)

func withAnnotation(k, v string) nodeOpt {
	return func(n *corev1.Node) { n.Annotations[k] = v }
}
func withoutAnnotation(k string) nodeOpt { return func(n *corev1.Node) { delete(n.Annotations, k) } }
func withCIDR(c string) nodeOpt {
	return func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = c, []string{c} }
}

func macOf(i int) net.HardwareAddr { return net.HardwareAddr{2, 0, 0, 0, 0, byte(i)} }
func ipOf(i int) netip.Addr        { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }
func cidrOf(i int) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 42, byte(i), 0}), 24)
}

// node i on backend, annotated as its overlay would have done it.
func node(i int, backend string, opts ...nodeOpt) *corev1.Node {
	name := "n" + string(rune('0'+i))
	if i == 1 {
		name = selfName
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: wantAnnotations(backend, ipOf(i), 1, macOf(i))},
		Spec:       corev1.NodeSpec{PodCIDR: cidrOf(i).String(), PodCIDRs: []string{cidrOf(i).String()}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func TestWantAnnotations(t *testing.T) {
	tests := []struct {
		backend string
		want    map[string]string
	}{{
		backend: BackendVXLAN,
		want: map[string]string{
			AnnotationBackendType: "vxlan", AnnotationBackendData: `{"VNI":1,"VtepMAC":"02:00:00:00:00:01"}`,
			AnnotationPublicIP: "192.0.2.1", AnnotationKubeSubnetManager: "true",
		},
	}, {
		backend: BackendHostGW,
		want: map[string]string{
			AnnotationBackendType: "host-gw", AnnotationBackendData: "null",
			AnnotationPublicIP: "192.0.2.1", AnnotationKubeSubnetManager: "true",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.backend, func(t *testing.T) {
			if got := wantAnnotations(tt.backend, selfIP, 1, macOf(1)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPeersOf(t *testing.T) {
	tests := []struct {
		name    string
		backend string
		nodes   []*corev1.Node
		want    []string // peer names
	}{
		{"self is never a peer", BackendVXLAN, []*corev1.Node{node(1, BackendVXLAN), node(2, BackendVXLAN)}, []string{"n2"}},
		{"sorted by name", BackendVXLAN, []*corev1.Node{node(3, BackendVXLAN), node(2, BackendVXLAN)}, []string{"n2", "n3"}},
		{"another backend is ignored", BackendVXLAN, []*corev1.Node{node(2, BackendHostGW), node(3, BackendVXLAN)}, []string{"n3"}},
		{"host-gw needs no MAC", BackendHostGW, []*corev1.Node{node(2, BackendHostGW)}, []string{"n2"}},
		{"no pod CIDR yet", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withCIDR(""))}, nil},
		{"not annotated yet", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withoutAnnotation(AnnotationBackendType))}, nil},
		{"bad public IP", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withAnnotation(AnnotationPublicIP, "nope"))}, nil},
		{"IPv6 public IP", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withAnnotation(AnnotationPublicIP, "2001:db8::1"))}, nil},
		{"bad backend data", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withAnnotation(AnnotationBackendData, "null"))}, nil},
		{"bad MAC", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withAnnotation(AnnotationBackendData, `{"VNI":1,"VtepMAC":"zz"}`))}, nil},
		{"our public IP", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withAnnotation(AnnotationPublicIP, "192.0.2.1"))}, nil},
		{"our pod CIDR", BackendVXLAN, []*corev1.Node{node(2, BackendVXLAN, withCIDR("10.42.1.0/24"))}, nil},
		{"overlapping pod CIDRs: the first by name wins", BackendVXLAN,
			[]*corev1.Node{node(3, BackendVXLAN, withCIDR("10.42.2.0/23")), node(2, BackendVXLAN)}, []string{"n2"}},
		{"duplicate MACs: the first by name wins", BackendVXLAN,
			[]*corev1.Node{node(3, BackendVXLAN, withAnnotation(AnnotationBackendData, `{"VNI":1,"VtepMAC":"02:00:00:00:00:02"}`)), node(2, BackendVXLAN)},
			[]string{"n2"}},
		{"pod CIDR from podCIDR alone", BackendVXLAN,
			[]*corev1.Node{node(2, BackendVXLAN, func(n *corev1.Node) { n.Spec.PodCIDRs = nil })}, []string{"n2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range peersOf(tt.nodes, tt.backend, selfName, selfCIDR, selfIP) {
				got = append(got, p.name)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("peers %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDesired(t *testing.T) {
	peers := peersOf([]*corev1.Node{node(2, BackendVXLAN), node(3, BackendVXLAN)}, BackendVXLAN, selfName, selfCIDR, selfIP)
	got := desired(BackendVXLAN, peers, devIdx, underIdx)
	want := state{
		routes: []route{
			{dst: cidrOf(2), gw: netip.MustParseAddr("10.42.2.0"), link: devIdx, onlink: true},
			{dst: cidrOf(3), gw: netip.MustParseAddr("10.42.3.0"), link: devIdx, onlink: true},
		},
		neighs: []neigh{
			{ip: netip.MustParseAddr("10.42.2.0"), mac: "02:00:00:00:00:02", permanent: true},
			{ip: netip.MustParseAddr("10.42.3.0"), mac: "02:00:00:00:00:03", permanent: true},
		},
		fdb: []fdb{
			{mac: "02:00:00:00:00:02", dst: ipOf(2), permanent: true},
			{mac: "02:00:00:00:00:03", dst: ipOf(3), permanent: true},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("vxlan:\n got %+v\nwant %+v", got, want)
	}

	peers = peersOf([]*corev1.Node{node(2, BackendHostGW)}, BackendHostGW, selfName, selfCIDR, selfIP)
	got = desired(BackendHostGW, peers, 0, underIdx)
	want = state{routes: []route{{dst: cidrOf(2), gw: ipOf(2), link: underIdx}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host-gw:\n got %+v\nwant %+v", got, want)
	}
}

func TestDiff(t *testing.T) {
	vx := func(i ...int) state {
		var ps []peer
		for _, n := range i {
			ps = append(ps, peer{name: "n", podCIDR: cidrOf(n), publicIP: ipOf(n), vtepMAC: macOf(n)})
		}
		return desired(BackendVXLAN, ps, devIdx, underIdx)
	}
	hostgw := func(i ...int) state {
		var ps []peer
		for _, n := range i {
			ps = append(ps, peer{name: "n", podCIDR: cidrOf(n), publicIP: ipOf(n)})
		}
		return desired(BackendHostGW, ps, 0, underIdx)
	}
	tests := []struct {
		name       string
		have, want state
		plan       plan
	}{{
		name: "nothing to do",
		have: vx(2, 3), want: vx(3, 2),
	}, {
		name: "a node joins: only its entries are added",
		have: vx(2), want: vx(2, 3),
		plan: plan{setRoutes: vx(3).routes, setNeighs: vx(3).neighs, setFDB: vx(3).fdb},
	}, {
		name: "a node leaves: only its entries go",
		have: vx(2, 3), want: vx(2),
		plan: plan{delRoutes: vx(3).routes, delNeighs: vx(3).neighs, delFDB: vx(3).fdb},
	}, {
		name: "a node's public IP changes: its FDB entry is replaced",
		have: vx(2),
		want: func() state { s := vx(2); s.fdb[0].dst = ipOf(9); return s }(),
		plan: plan{setFDB: []fdb{{mac: "02:00:00:00:00:02", dst: ipOf(9), permanent: true}}},
	}, {
		name: "a node's MAC changes: neighbour replaced, old FDB entry deleted, new one set",
		have: vx(2),
		want: func() state {
			s := vx(2)
			s.neighs[0].mac, s.fdb[0].mac = "02:00:00:00:00:99", "02:00:00:00:00:99"
			return s
		}(),
		plan: plan{
			delFDB:    vx(2).fdb,
			setNeighs: []neigh{{ip: netip.MustParseAddr("10.42.2.0"), mac: "02:00:00:00:00:99", permanent: true}},
			setFDB:    []fdb{{mac: "02:00:00:00:00:99", dst: ipOf(2), permanent: true}},
		},
	}, {
		name: "a learnt (not permanent) neighbour is made permanent",
		have: func() state { s := vx(2); s.neighs[0].permanent = false; return s }(),
		want: vx(2),
		plan: plan{setNeighs: vx(2).neighs},
	}, {
		name: "switch to host-gw: the vxlan routes are replaced in place, neighbours and FDB go",
		have: vx(2, 3), want: hostgw(2, 3),
		plan: plan{setRoutes: hostgw(2, 3).routes, delNeighs: vx(2, 3).neighs, delFDB: vx(2, 3).fdb},
	}, {
		name: "switch to vxlan",
		have: hostgw(2), want: vx(2),
		plan: plan{setRoutes: vx(2).routes, setNeighs: vx(2).neighs, setFDB: vx(2).fdb},
	}, {
		name: "empty want removes everything",
		have: hostgw(3, 2),
		plan: plan{delRoutes: hostgw(2, 3).routes},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := diff(tt.have, tt.want)
			if !reflect.DeepEqual(got, tt.plan) {
				t.Errorf("plan\n got %+v\nwant %+v", got, tt.plan)
			}
			if got.empty() != reflect.DeepEqual(tt.plan, plan{}) {
				t.Errorf("empty() = %v", got.empty())
			}
		})
	}
}

func TestRelevantChange(t *testing.T) {
	base := node(2, BackendVXLAN)
	tests := []struct {
		name string
		mod  func(*corev1.Node)
		want bool
	}{
		{"heartbeat", func(n *corev1.Node) { n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady}} }, false},
		{"unrelated annotation", func(n *corev1.Node) { n.Annotations["x"] = "y" }, false},
		{"pod CIDR", func(n *corev1.Node) { n.Spec.PodCIDR = "10.42.9.0/24" }, true},
		{"pod CIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.9.0/24"} }, true},
		{"public IP", func(n *corev1.Node) { n.Annotations[AnnotationPublicIP] = "192.0.2.9" }, true},
		{"backend data", func(n *corev1.Node) { delete(n.Annotations, AnnotationBackendData) }, true},
		{"backend type", func(n *corev1.Node) { n.Annotations[AnnotationBackendType] = "host-gw" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cur := base.DeepCopy()
			tt.mod(cur)
			if got := relevantChange(base, cur); got != tt.want {
				t.Errorf("relevantChange = %v, want %v", got, tt.want)
			}
		})
	}
}
