package overlay

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
)

// state is the part of the kernel the overlay owns: its routes (in any
// link), and the neighbour and FDB entries of its VXLAN device.
type state struct {
	routes []route
	neighs []neigh
	fdb    []fdb
}

// route is one route the overlay owns; link is an interface index.
type route struct {
	dst    netip.Prefix
	gw     netip.Addr
	link   int
	onlink bool
}

// neigh is a permanent ARP entry on the VXLAN device.
type neigh struct {
	ip        netip.Addr
	mac       string
	permanent bool
}

// fdb is a permanent FDB entry of the VXLAN device: frames to mac go to
// the VTEP at dst.
type fdb struct {
	mac       string
	dst       netip.Addr
	permanent bool
}

// desired is what the kernel should hold for peers: with vxlan, dev is
// the VXLAN device's index; with host-gw, underlay is the underlay link's.
func desired(backend string, peers []peer, dev, underlay int) state {
	var s state
	for _, p := range peers {
		switch backend {
		case BackendVXLAN:
			vtep := p.podCIDR.Addr()
			mac := p.vtepMAC.String()
			s.routes = append(s.routes, route{dst: p.podCIDR, gw: vtep, link: dev, onlink: true})
			s.neighs = append(s.neighs, neigh{ip: vtep, mac: mac, permanent: true})
			s.fdb = append(s.fdb, fdb{mac: mac, dst: p.publicIP, permanent: true})
		case BackendHostGW:
			s.routes = append(s.routes, route{dst: p.podCIDR, gw: p.publicIP, link: underlay})
		}
	}
	return s
}

// plan is what turns one state into another. Entries that are already
// right appear nowhere: they are never touched.
type plan struct {
	delRoutes, setRoutes []route
	delNeighs, setNeighs []neigh
	delFDB, setFDB       []fdb
}

func (p plan) empty() bool {
	return len(p.delRoutes)+len(p.setRoutes)+len(p.delNeighs)+len(p.setNeighs)+len(p.delFDB)+len(p.setFDB) == 0
}

// diff plans the change from have to want. Routes are keyed by
// destination, neighbours by IP, FDB entries by MAC: an entry of want
// whose key is in have with other values is set (replaced in place, so
// traffic to it never lacks a route); an entry of have whose key is not
// in want is deleted.
func diff(have, want state) plan {
	var p plan
	p.delRoutes, p.setRoutes = diffBy(have.routes, want.routes, func(r route) netip.Prefix { return r.dst })
	p.delNeighs, p.setNeighs = diffBy(have.neighs, want.neighs, func(n neigh) netip.Addr { return n.ip })
	p.delFDB, p.setFDB = diffBy(have.fdb, want.fdb, func(f fdb) string { return f.mac })
	slices.SortFunc(p.delRoutes, cmpRoute)
	slices.SortFunc(p.setRoutes, cmpRoute)
	slices.SortFunc(p.delNeighs, func(a, b neigh) int { return a.ip.Compare(b.ip) })
	slices.SortFunc(p.setNeighs, func(a, b neigh) int { return a.ip.Compare(b.ip) })
	slices.SortFunc(p.delFDB, func(a, b fdb) int { return strings.Compare(a.mac, b.mac) })
	slices.SortFunc(p.setFDB, func(a, b fdb) int { return strings.Compare(a.mac, b.mac) })
	return p
}

func diffBy[T comparable, K comparable](have, want []T, key func(T) K) (del, set []T) {
	wanted := make(map[K]T, len(want))
	for _, w := range want {
		wanted[key(w)] = w
	}
	present := make(map[K]bool, len(have))
	for _, h := range have {
		k := key(h)
		w, ok := wanted[k]
		switch {
		case !ok:
			del = append(del, h)
		case w == h:
			present[k] = true
		}
	}
	for _, w := range want {
		if !present[key(w)] {
			set = append(set, w)
		}
	}
	return del, set
}

func cmpRoute(a, b route) int {
	if c := a.dst.Addr().Compare(b.dst.Addr()); c != 0 {
		return c
	}
	return cmp.Compare(a.dst.Bits(), b.dst.Bits())
}
