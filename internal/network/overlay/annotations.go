package overlay

import (
	"encoding/json"
	"net"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The Node annotations flannel's Kubernetes subnet manager writes (with
// its default prefix), and so do we.
const (
	AnnotationBackendType       = "flannel.alpha.coreos.com/backend-type"
	AnnotationBackendData       = "flannel.alpha.coreos.com/backend-data"
	AnnotationPublicIP          = "flannel.alpha.coreos.com/public-ip"
	AnnotationKubeSubnetManager = "flannel.alpha.coreos.com/kube-subnet-manager"
)

// annotationKeys are the annotations a peer's entries are made from;
// a Node update that changes none of them (nor the pod CIDR) is a
// heartbeat and changes nothing here.
var annotationKeys = []string{AnnotationBackendType, AnnotationBackendData, AnnotationPublicIP, AnnotationKubeSubnetManager}

// vxlanData is flannel's vxlan backend-data, {"VNI":1,"VtepMAC":"…"}.
type vxlanData struct {
	VNI     int    `json:"VNI"`
	VtepMAC string `json:"VtepMAC"`
}

// wantAnnotations is what this node's Node must carry for the backend.
func wantAnnotations(backend string, publicIP netip.Addr, vni int, mac net.HardwareAddr) map[string]string {
	data := "null" // host-gw's backend data, as flannel writes it
	if backend == BackendVXLAN {
		b, _ := json.Marshal(vxlanData{VNI: vni, VtepMAC: mac.String()})
		data = string(b)
	}
	return map[string]string{
		AnnotationBackendType:       backend,
		AnnotationBackendData:       data,
		AnnotationPublicIP:          publicIP.String(),
		AnnotationKubeSubnetManager: "true",
	}
}

// annotationsDiffer reports which of want node lacks or holds otherwise.
func annotationsDiffer(node *corev1.Node, want map[string]string) bool {
	for k, v := range want {
		if node.Annotations[k] != v {
			return true
		}
	}
	return false
}

// relevantChange reports whether a Node update changes anything the
// overlay reads.
func relevantChange(old, cur *corev1.Node) bool {
	if old.Spec.PodCIDR != cur.Spec.PodCIDR || !slices.Equal(old.Spec.PodCIDRs, cur.Spec.PodCIDRs) {
		return true
	}
	for _, k := range annotationKeys {
		if old.Annotations[k] != cur.Annotations[k] {
			return true
		}
	}
	return false
}

// podCIDROf returns the node's IPv4 pod CIDR, masked.
func podCIDROf(node *corev1.Node) (netip.Prefix, bool) {
	cidrs := node.Spec.PodCIDRs
	if len(cidrs) == 0 && node.Spec.PodCIDR != "" {
		cidrs = []string{node.Spec.PodCIDR}
	}
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err == nil && p.Addr().Is4() {
			return p.Masked(), true
		}
	}
	return netip.Prefix{}, false
}

// vtepMACOf returns the VTEP MAC a node's vxlan annotations carry.
func vtepMACOf(node *corev1.Node) (net.HardwareAddr, bool) {
	if node.Annotations[AnnotationBackendType] != BackendVXLAN {
		return nil, false
	}
	var d vxlanData
	if err := json.Unmarshal([]byte(node.Annotations[AnnotationBackendData]), &d); err != nil {
		return nil, false
	}
	mac, err := net.ParseMAC(d.VtepMAC)
	if err != nil || len(mac) != 6 {
		return nil, false
	}
	return mac, true
}

// peer is another node as one backend sees it.
type peer struct {
	name     string
	podCIDR  netip.Prefix
	publicIP netip.Addr
	vtepMAC  net.HardwareAddr // vxlan only
}

// peerOf reads a node's lease as the backend needs it; it reports false
// for a node that is not (yet) on this backend: no pod CIDR, another
// backend-type (flannel ignores those as well), a missing public IP or
// VTEP MAC.
func peerOf(node *corev1.Node, backend string) (peer, bool) {
	cidr, ok := podCIDROf(node)
	if !ok || node.Annotations[AnnotationBackendType] != backend {
		return peer{}, false
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(node.Annotations[AnnotationPublicIP]))
	if err != nil || !ip.Is4() {
		return peer{}, false
	}
	p := peer{name: node.Name, podCIDR: cidr, publicIP: ip}
	if backend == BackendVXLAN {
		if p.vtepMAC, ok = vtepMACOf(node); !ok {
			return peer{}, false
		}
	}
	return p, true
}

// peersOf returns the peers among nodes for this node (self, with its pod
// CIDR and public IP): every other node on the backend whose pod CIDR
// does not overlap ours or an earlier peer's, whose public IP is not ours
// and whose VTEP MAC no earlier peer has, in name order (so that, of two
// nodes claiming one CIDR or MAC, the same one wins on every sync).
func peersOf(nodes []*corev1.Node, backend, self string, selfCIDR netip.Prefix, selfIP netip.Addr) []peer {
	sorted := slices.Clone(nodes)
	slices.SortFunc(sorted, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	var out []peer
	taken := []netip.Prefix{selfCIDR}
	macs := map[string]bool{}
	for _, n := range sorted {
		if n.Name == self {
			continue
		}
		p, ok := peerOf(n, backend)
		if !ok || p.publicIP == selfIP {
			continue
		}
		if slices.ContainsFunc(taken, p.podCIDR.Overlaps) || (p.vtepMAC != nil && macs[p.vtepMAC.String()]) {
			continue
		}
		taken = append(taken, p.podCIDR)
		if p.vtepMAC != nil {
			macs[p.vtepMAC.String()] = true
		}
		out = append(out, p)
	}
	return out
}
