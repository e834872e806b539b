package dns

import (
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The index holds what the cluster domain answers, keyed so that a query
// is a map hit:
//
//   - names: every name a Service defines (lower-case FQDN) to its record
//     data. Each name has exactly one owning Service, so a Service's update
//     deletes the names it had and inserts the ones it has now.
//   - svcPTR / epPTR: an address to the names pointing back at it. One
//     address may belong to several Services (a pod behind two Services),
//     so each target carries a count of the Services contributing it.
//
// Updates come from two informers' goroutines; upd serialises them and
// keeps each Service's inputs (its object and its EndpointSlices). Queries
// take mu for reading only.
type index struct {
	zone string // "cluster.local."

	mu     sync.RWMutex
	names  map[string]*rrset
	svcPTR map[netip.Addr]map[string]int
	epPTR  map[netip.Addr]map[string]int

	upd      sync.Mutex
	services map[types.NamespacedName]*serviceState

	// serial is the SOA serial: the Unix time of the last change, as
	// CoreDNS's kubernetes plugin has it.
	serial atomic.Uint32
}

// rrset is the record data of one name.
type rrset struct {
	addrs []netip.Addr // A and AAAA
	srv   []srvRecord
	cname string // an ExternalName Service's target (FQDN)
}

// srvRecord is one SRV answer; addrs are its target's, for the additional
// section.
type srvRecord struct {
	target string
	port   uint16
	addrs  []netip.Addr
}

// serviceState is one Service's inputs and what it put in the index.
type serviceState struct {
	svc    *corev1.Service
	slices map[string]*discoveryv1.EndpointSlice
	built  built
}

// built is what one Service contributes to the index.
type built struct {
	names  map[string]*rrset
	svcPTR []ptrRef
	epPTR  []ptrRef
}

type ptrRef struct {
	addr   netip.Addr
	target string
}

func newIndex(domain string) *index {
	ix := &index{
		zone:     domain + ".",
		names:    map[string]*rrset{},
		svcPTR:   map[netip.Addr]map[string]int{},
		epPTR:    map[netip.Addr]map[string]int{},
		services: map[types.NamespacedName]*serviceState{},
	}
	ix.touch()
	return ix
}

func (ix *index) touch() { ix.serial.Store(uint32(time.Now().Unix())) }

// setService records a Service's new state (nil: deleted) and rebuilds
// its records.
func (ix *index) setService(key types.NamespacedName, svc *corev1.Service) {
	ix.upd.Lock()
	defer ix.upd.Unlock()
	st := ix.state(key)
	st.svc = svc
	ix.rebuild(key, st)
}

// setSlice records an EndpointSlice's new state (nil: deleted) under the
// Service it belongs to and rebuilds that Service's records.
func (ix *index) setSlice(key types.NamespacedName, name string, slice *discoveryv1.EndpointSlice) {
	ix.upd.Lock()
	defer ix.upd.Unlock()
	st := ix.state(key)
	if slice == nil {
		delete(st.slices, name)
	} else {
		st.slices[name] = slice
	}
	ix.rebuild(key, st)
}

func (ix *index) state(key types.NamespacedName) *serviceState {
	st := ix.services[key]
	if st == nil {
		st = &serviceState{slices: map[string]*discoveryv1.EndpointSlice{}}
		ix.services[key] = st
	}
	return st
}

// rebuild swaps the Service's old records for new ones; upd is held.
func (ix *index) rebuild(key types.NamespacedName, st *serviceState) {
	next := buildService(st.svc, st.slices, ix.zone)
	ix.mu.Lock()
	for name := range st.built.names {
		delete(ix.names, name)
	}
	for name, rr := range next.names {
		ix.names[name] = rr
	}
	unref(ix.svcPTR, st.built.svcPTR)
	unref(ix.epPTR, st.built.epPTR)
	ref(ix.svcPTR, next.svcPTR)
	ref(ix.epPTR, next.epPTR)
	ix.mu.Unlock()
	st.built = next
	if st.svc == nil && len(st.slices) == 0 {
		delete(ix.services, key)
	}
	ix.touch()
}

func ref(m map[netip.Addr]map[string]int, refs []ptrRef) {
	for _, r := range refs {
		targets := m[r.addr]
		if targets == nil {
			targets = map[string]int{}
			m[r.addr] = targets
		}
		targets[r.target]++
	}
}

func unref(m map[netip.Addr]map[string]int, refs []ptrRef) {
	for _, r := range refs {
		targets := m[r.addr]
		if targets[r.target]--; targets[r.target] <= 0 {
			delete(targets, r.target)
		}
		if len(targets) == 0 {
			delete(m, r.addr)
		}
	}
}

// lookup returns the record data of a lower-case FQDN.
func (ix *index) lookup(name string) *rrset {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.names[name]
}

// ptr returns the names pointing at addr, sorted: a Service's cluster IP
// names only that Service, as in CoreDNS; otherwise every endpoint name
// the address has.
func (ix *index) ptr(addr netip.Addr) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if targets := ix.svcPTR[addr]; len(targets) > 0 {
		return []string{first(targets)}
	}
	return sortedKeys(ix.epPTR[addr])
}

func first(m map[string]int) string {
	var min string
	for k := range m {
		if min == "" || k < min {
			min = k
		}
	}
	return min
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}
