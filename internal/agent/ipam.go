package agent

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// errNoPodCIDR is returned while the node has no spec.podCIDR yet.
var errNoPodCIDR = errors.New("node has no pod CIDR yet")

// ipam hands out pod IPs from the node's IPv4 pod CIDR, skipping the
// network address, the gateway (.1, the bridge's) and the broadcast
// address. It is in memory: after a restart the agent re-reserves the
// addresses of the sandboxes it adopts.
type ipam struct {
	mu     sync.Mutex
	prefix netip.Prefix
	byIP   map[netip.Addr]types.UID
	byPod  map[types.UID]netip.Addr
	next   netip.Addr
}

func newIPAM() *ipam {
	return &ipam{byIP: map[netip.Addr]types.UID{}, byPod: map[types.UID]netip.Addr{}}
}

// setCIDR sets the range once the node IPAM controller has assigned it.
func (m *ipam) setCIDR(cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("pod CIDR %q: %w", cidr, err)
	}
	if !p.Addr().Is4() || p.Bits() > 30 {
		return fmt.Errorf("pod CIDR %q: need an IPv4 range of at least 4 addresses", cidr)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prefix == p.Masked() {
		return nil
	}
	m.prefix = p.Masked()
	m.next = m.first()
	return nil
}

func (m *ipam) first() netip.Addr { return m.prefix.Addr().Next().Next() }

func (m *ipam) hasCIDR() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.prefix.IsValid()
}

// allocate returns the pod's address, the same one on every call until
// release.
func (m *ipam) allocate(uid types.UID) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ip, ok := m.byPod[uid]; ok {
		return ip.String(), nil
	}
	if !m.prefix.IsValid() {
		return "", errNoPodCIDR
	}
	size := 1 << (32 - m.prefix.Bits())
	// Walk round from where the last allocation stopped, so a released
	// address is not reused at once (as host-local IPAM does).
	ip := m.next
	for range size {
		if !m.prefix.Contains(ip) || isBroadcast(m.prefix, ip) {
			ip = m.first()
		}
		if _, used := m.byIP[ip]; !used {
			m.byIP[ip], m.byPod[uid] = uid, ip
			m.next = ip.Next()
			return ip.String(), nil
		}
		ip = ip.Next()
	}
	return "", fmt.Errorf("pod CIDR %s is exhausted", m.prefix)
}

// reserve records an address an adopted sandbox already uses.
func (m *ipam) reserve(uid types.UID, addr string) {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byIP[ip], m.byPod[uid] = uid, ip
}

// release frees the pod's address, if it has one.
func (m *ipam) release(uid types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ip, ok := m.byPod[uid]; ok {
		delete(m.byPod, uid)
		delete(m.byIP, ip)
	}
}

func isBroadcast(p netip.Prefix, ip netip.Addr) bool {
	b := ip.As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	mask := uint32(1)<<host - 1
	return v&mask == mask
}
