package apiserver

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"sync"
)

// errRangeFull is returned when every address or port is taken.
var errRangeFull = errors.New("range is full")

// allocator hands out the members of a range of size values (offsets
// 0..size-1), like upstream's bitmap allocators: a value asked for by name
// is taken if free, otherwise a random free one is picked. It is in memory
// only; the server rebuilds it from the stored objects at start.
type allocator struct {
	mu   sync.Mutex
	size int
	used big.Int // bit i set: offset i is taken
	free int
}

func newAllocator(size int) *allocator { return &allocator{size: size, free: size} }

// take marks offset i used; it reports false if it already was.
func (a *allocator) take(i int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i < 0 || i >= a.size || a.used.Bit(i) == 1 {
		return false
	}
	a.used.SetBit(&a.used, i, 1)
	a.free--
	return true
}

// next takes a random free offset.
func (a *allocator) next() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.free == 0 {
		return 0, errRangeFull
	}
	start := rand.IntN(a.size)
	for k := range a.size {
		i := (start + k) % a.size
		if a.used.Bit(i) == 0 {
			a.used.SetBit(&a.used, i, 1)
			a.free--
			return i, nil
		}
	}
	return 0, errRangeFull
}

func (a *allocator) release(i int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if i >= 0 && i < a.size && a.used.Bit(i) == 1 {
		a.used.SetBit(&a.used, i, 0)
		a.free++
	}
}

// ipRange allocates the addresses of a CIDR, less its network address
// (and, for IPv4, its broadcast address), as upstream does.
type ipRange struct {
	prefix netip.Prefix
	alloc  *allocator
}

func newIPRange(cidr string) (*ipRange, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, err
	}
	prefix = prefix.Masked()
	bits := prefix.Addr().BitLen() - prefix.Bits()
	if bits > 20 {
		bits = 20 // upstream caps the bitmap too; a /12 of services is plenty
	}
	size := 1<<bits - 1 // less the network address
	if prefix.Addr().Is4() {
		size-- // and the broadcast address
	}
	if size < 1 {
		return nil, fmt.Errorf("service CIDR %s is too small", cidr)
	}
	return &ipRange{prefix: prefix, alloc: newAllocator(size)}, nil
}

func (r *ipRange) offset(ip netip.Addr) (int, bool) {
	if !r.prefix.Contains(ip) {
		return 0, false
	}
	base := r.prefix.Addr().As16()
	cur := ip.As16()
	var b, c big.Int
	b.SetBytes(base[:])
	c.SetBytes(cur[:])
	n := new(big.Int).Sub(&c, &b).Int64() - 1
	return int(n), n >= 0 && n < int64(r.alloc.size)
}

func (r *ipRange) addr(offset int) netip.Addr {
	base := r.prefix.Addr().As16()
	var b big.Int
	b.SetBytes(base[:])
	b.Add(&b, big.NewInt(int64(offset+1)))
	var out [16]byte
	b.FillBytes(out[:])
	ip := netip.AddrFrom16(out)
	if r.prefix.Addr().Is4() {
		ip = ip.Unmap()
	}
	return ip
}

// allocate takes ip, or a random free address when ip is invalid.
func (r *ipRange) allocate(ip netip.Addr) (netip.Addr, error) {
	if !ip.IsValid() {
		off, err := r.alloc.next()
		if err != nil {
			return netip.Addr{}, err
		}
		return r.addr(off), nil
	}
	off, ok := r.offset(ip)
	if !ok {
		return netip.Addr{}, fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, r.prefix)
	}
	if !r.alloc.take(off) {
		return netip.Addr{}, fmt.Errorf("the provided IP (%s) is already allocated", ip)
	}
	return ip, nil
}

func (r *ipRange) release(ip netip.Addr) {
	if off, ok := r.offset(ip); ok {
		r.alloc.release(off)
	}
}

// portRange allocates ports base..base+size-1.
type portRange struct {
	base  int
	alloc *allocator
}

func newPortRange(first, last int) *portRange {
	return &portRange{base: first, alloc: newAllocator(last - first + 1)}
}

// allocate takes port, or a random free port when port is 0.
func (r *portRange) allocate(port int) (int, error) {
	if port == 0 {
		off, err := r.alloc.next()
		return r.base + off, err
	}
	if port < r.base || port >= r.base+r.alloc.size {
		return 0, fmt.Errorf("provided port is not in the valid range. The range of valid ports is %d-%d", r.base, r.base+r.alloc.size-1)
	}
	if !r.alloc.take(port - r.base) {
		return 0, fmt.Errorf("provided port is already allocated")
	}
	return port, nil
}

func (r *portRange) release(port int) { r.alloc.release(port - r.base) }
