package proxy

import (
	"net/netip"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Names of the static chains, maps and sets; see doc.go.
const (
	chainServices         = "services"
	chainMarkMasq         = "mark-for-masquerade"
	chainMasquerading     = "masquerading"
	chainServiceEPCheck   = "service-endpoints-check"
	chainNodePortEPCheck  = "nodeport-endpoints-check"
	chainReject           = "reject-chain"
	mapServiceIPs         = "service-ips"
	mapServiceNodePorts   = "service-nodeports"
	mapNoEndpointServices = "no-endpoint-services"
	mapNoEndpointNodePort = "no-endpoint-nodeports"
	setNodePortIPs        = "nodeport-ips"
	mapEndpointsPrefix    = "endpoints-"
	setHairpin            = "hairpin"
)

// mapID names one of the four verdict maps.
type mapID uint8

const (
	serviceIPs mapID = iota
	serviceNodePorts
	noEndpointServices
	noEndpointNodePorts
	numMaps
)

var mapNames = [numMaps]string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointServices, mapNoEndpointNodePort}

// elemKey is a verdict map key: address (not for the nodeport maps), protocol, port.
type elemKey struct {
	m     mapID
	ip    netip.Addr
	proto uint8
	port  uint16
}

// elem is a map element; target "" means drop, otherwise goto target.
type elem struct {
	elemKey
	target string
}

func (e elem) String() string {
	s := mapNames[e.m] + ": "
	if e.ip.IsValid() {
		s += e.ip.String() + " . "
	}
	s += protoName(e.proto) + " . " + strconv.Itoa(int(e.port)) + " : "
	if e.target == "" {
		return s + "drop"
	}
	return s + "goto " + e.target
}

// epElem is an element of the endpoints map: slot key to address . port.
type epElem struct {
	key  uint32
	ip   netip.Addr
	port uint16
}

func (e epElem) String() string {
	return endpointsMapOf(e.key) + ": " + strconv.FormatUint(uint64(e.key), 10) + " : " + e.ip.String() + " . " + strconv.Itoa(int(e.port))
}

// slotBits is the width of the index part of an endpoints map key: each
// balancing chain owns the keys slot<<slotBits .. +2^slotBits-1.
const slotBits = 16

// maxPicked is the most endpoints a chain balances over through the map.
const maxPicked = 1 << slotBits

// slotsPerMap is how many chains share one endpoints map. The kernel
// checks a new data map element against every rule bound to the map, and
// a newly bound rule against every element: with one map for all, a full
// sync of thousands of Services is quadratic. 64 chains a map bound both.
const slotsPerMap = 64

// endpointsMapOf names the endpoints map that holds key.
func endpointsMapOf(key uint32) string {
	return mapEndpointsPrefix + strconv.FormatUint(uint64(key>>slotBits/slotsPerMap), 10)
}

// slotter hands out the endpoints map slots of balancing chains; false
// means none is left, and the chain balances through endpoint chains.
type slotter interface {
	slot(chain string) (uint32, bool)
}

// setSpec is an affinity set: the clients recently sent to one endpoint.
type setSpec struct {
	name    string
	timeout time.Duration
}

// udpPort is what stale conntrack clean-up needs to know about a UDP port.
type udpPort struct {
	ips      []netip.Addr // cluster IP, externalIPs, LoadBalancer IPs
	port     uint16
	nodePort uint16
	eps      []netip.Addr // endpoints programmed
}

// servicePlan is everything one Service wants programmed.
type servicePlan struct {
	chains  []*chainSpec
	elems   []elem
	eps     []epElem
	hairpin []netip.Addr // endpoint addresses, for the hairpin set
	sets    []setSpec
	udp     []udpPort
	lbAddrs []netip.Addr
}

// planner turns Services into plans; it holds only configuration.
type planner struct {
	clusterCIDR netip.Prefix
}

// planPort appends the chains, elements and sets of one Service port.
// It follows upstream's categorisation: the cluster policy chain
// (service-) holds every usable endpoint, the local policy chain (local-)
// the node's own; ClusterIP traffic goes to the one internalTrafficPolicy
// picks, NodePort/externalIPs/LoadBalancer traffic through the external-
// chain to the one externalTrafficPolicy picks.
func (pl *planner) planPort(sp *servicePort, slots slotter, out *servicePlan) {
	clusterEps := usable(sp.endpoints, false)
	localEps := usable(sp.endpoints, true)
	usesExternal := sp.nodePort != 0 || len(sp.externalIPs) > 0

	svcChain := "service-" + sp.base
	localChain := "local-" + sp.base
	extChain := "external-" + sp.base

	needCluster := len(clusterEps) > 0 && (!sp.internalLocal || usesExternal)
	needLocal := len(localEps) > 0 && (sp.internalLocal || (usesExternal && sp.externalLocal))

	internalChain, internalEps := svcChain, clusterEps
	if sp.internalLocal {
		internalChain, internalEps = localChain, localEps
	}
	externalEps := clusterEps
	if sp.externalLocal {
		externalEps = localEps
	}
	hasExternal := usesExternal && len(externalEps) > 0

	// With no endpoints at all a Service rejects; with endpoints but none
	// local under a Local policy it drops, as upstream.
	noEndpoint := chainReject
	if len(clusterEps) > 0 {
		noEndpoint = ""
	}

	programmed := map[netip.Addr]bool{}
	chained := map[string]bool{}
	epChain := func(e endpoint) string { return "endpoint-" + sp.base + "__" + endpointString(e) }
	affSet := func(e endpoint) string { return "affinity-" + sp.base + "__" + endpointString(e) }
	salt := ""
	if sp.affinity > 0 {
		salt = "affinity " + sp.affinity.String()
	}

	// A policy chain without affinity DNATs straight through the
	// endpoints map; with affinity (or no map slot left) it goes to a
	// chain per endpoint, which records the client in the endpoint's
	// affinity set. Hairpin traffic is masqueraded in postrouting, by the
	// hairpin set of endpoint addresses.
	policyChain := func(name string, eps []endpoint) {
		c := &chainSpec{name: name, salt: salt}
		if name == internalChain {
			// Traffic to the cluster IP from outside the pod network
			// (the node itself, other hosts routing to it) is
			// masqueraded so replies come back through this node.
			c.rules = append(c.rules, newRule().addr(offDaddr, sp.clusterIP).
				prefix(offSaddr, pl.clusterCIDR, true).jump(chainMarkMasq))
		}
		for _, e := range eps {
			if !programmed[e.ip] {
				programmed[e.ip] = true
				out.hairpin = append(out.hairpin, e.ip)
			}
		}
		if sp.affinity == 0 {
			if slot, ok := slots.slot(name); ok {
				eps = eps[:min(len(eps), maxPicked)]
				base := slot << slotBits
				c.rules = append(c.rules, newRule().dnatPick(sp.proto, len(eps), base))
				for i, e := range eps {
					out.eps = append(out.eps, epElem{key: base + uint32(i), ip: e.ip, port: e.port})
				}
				out.chains = append(out.chains, c)
				return
			}
		}
		targets := make([]string, len(eps))
		for i, e := range eps {
			targets[i] = epChain(e)
			if sp.affinity > 0 {
				c.rules = append(c.rules, newRule().inSet(offSaddr, affSet(e)).goTo(targets[i]))
			}
		}
		if len(targets) == 1 {
			c.rules = append(c.rules, newRule().goTo(targets[0]))
		} else {
			c.rules = append(c.rules, newRule().random(name, targets))
		}
		out.chains = append(out.chains, c)
		for _, e := range eps {
			if chained[epChain(e)] {
				continue
			}
			chained[epChain(e)] = true
			ec := &chainSpec{name: epChain(e), salt: salt}
			if sp.affinity > 0 {
				ec.rules = append(ec.rules, newRule().affinityUpdate(affSet(e)))
				out.sets = append(out.sets, setSpec{name: affSet(e), timeout: sp.affinity})
			}
			ec.rules = append(ec.rules, newRule().dnat(sp.proto, e.ip, e.port))
			out.chains = append(out.chains, ec)
		}
	}
	if needCluster {
		policyChain(svcChain, clusterEps)
	}
	if needLocal {
		policyChain(localChain, localEps)
	}

	if hasExternal {
		c := &chainSpec{name: extChain}
		if sp.externalLocal {
			if needCluster {
				// Pods and the node itself reaching an external address
				// are not external traffic: they may use any endpoint,
				// and the node's own traffic is masqueraded since its
				// source address is the one being DNATed away.
				c.rules = append(c.rules,
					newRule().prefix(offSaddr, pl.clusterCIDR, false).goTo(svcChain),
					newRule().fibLocal(true).jump(chainMarkMasq),
					newRule().fibLocal(true).goTo(svcChain))
			}
			c.rules = append(c.rules, newRule().goTo(localChain))
		} else {
			c.rules = append(c.rules, newRule().jump(chainMarkMasq), newRule().goTo(svcChain))
		}
		out.chains = append(out.chains, c)
	}

	// Map elements.
	if len(internalEps) > 0 {
		out.elems = append(out.elems, elem{elemKey{serviceIPs, sp.clusterIP, sp.proto, sp.port}, internalChain})
	} else {
		out.elems = append(out.elems, elem{elemKey{noEndpointServices, sp.clusterIP, sp.proto, sp.port}, noEndpoint})
	}
	for _, ip := range sp.externalIPs {
		if hasExternal {
			out.elems = append(out.elems, elem{elemKey{serviceIPs, ip, sp.proto, sp.port}, extChain})
		} else {
			out.elems = append(out.elems, elem{elemKey{noEndpointServices, ip, sp.proto, sp.port}, noEndpoint})
		}
	}
	if sp.nodePort != 0 {
		if hasExternal {
			out.elems = append(out.elems, elem{elemKey{serviceNodePorts, netip.Addr{}, sp.proto, sp.nodePort}, extChain})
		} else {
			out.elems = append(out.elems, elem{elemKey{noEndpointNodePorts, netip.Addr{}, sp.proto, sp.nodePort}, noEndpoint})
		}
	}

	if sp.proto == unix.IPPROTO_UDP {
		u := udpPort{ips: append([]netip.Addr{sp.clusterIP}, sp.externalIPs...), port: sp.port, nodePort: sp.nodePort}
		for ip := range programmed {
			u.eps = append(u.eps, ip)
		}
		out.udp = append(out.udp, u)
	}
}

// plan builds the plan of one Service's ports; nil ports give an empty plan.
func (pl *planner) plan(ports []servicePort, lbAddrs []netip.Addr, slots slotter) *servicePlan {
	out := &servicePlan{lbAddrs: lbAddrs}
	for i := range ports {
		pl.planPort(&ports[i], slots, out)
	}
	slices.SortFunc(out.hairpin, netip.Addr.Compare)
	out.hairpin = slices.Compact(out.hairpin)
	return out
}
