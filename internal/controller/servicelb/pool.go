package servicelb

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

var (
	// ErrPoolExhausted is returned by allocate when every address of the
	// pool is taken.
	ErrPoolExhausted = errors.New("no available IPs in the pool")
	// ErrNotInPool is returned by allocate for a requested address
	// (spec.loadBalancerIP) outside the pool.
	ErrNotInPool = errors.New("requested IP is not in the pool")
	// ErrInUse is returned by allocate for a requested address another
	// Service holds.
	ErrInUse = errors.New("requested IP is already allocated")
	// ErrInvalidPool is returned by New for a pool that is not
	// "START-END" with IPv4 addresses, START not after END.
	ErrInvalidPool = errors.New("invalid LoadBalancer pool")
)

// pool hands out the addresses of one IPv4 range to Services (by key).
// It is safe for concurrent use.
type pool struct {
	first, last netip.Addr

	mu    sync.Mutex
	owner map[netip.Addr]string // address → service key
	addr  map[string]netip.Addr // service key → address
}

// parsePool reads "START-END"; "" is no pool (nil).
func parsePool(s string) (*pool, error) {
	if s == "" {
		return nil, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("%w %q: want START-END", ErrInvalidPool, s)
	}
	first, err1 := netip.ParseAddr(strings.TrimSpace(from))
	last, err2 := netip.ParseAddr(strings.TrimSpace(to))
	if err1 != nil || err2 != nil || !first.Is4() || !last.Is4() || last.Less(first) {
		return nil, fmt.Errorf("%w %q: want START-END, two IPv4 addresses in order", ErrInvalidPool, s)
	}
	return &pool{first: first, last: last, owner: map[netip.Addr]string{}, addr: map[string]netip.Addr{}}, nil
}

func (p *pool) contains(a netip.Addr) bool {
	return a.Is4() && !a.Less(p.first) && !p.last.Less(a)
}

// lookup returns key's address, if it has one.
func (p *pool) lookup(key string) (netip.Addr, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.addr[key]
	return a, ok
}

// claim gives a to key if a is in the pool and free (or key's already);
// it is how addresses found in statuses are taken back.
func (p *pool) claim(key string, a netip.Addr) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.claimLocked(key, a)
}

func (p *pool) claimLocked(key string, a netip.Addr) bool {
	if !p.contains(a) {
		return false
	}
	if o, taken := p.owner[a]; taken {
		return o == key
	}
	if old, ok := p.addr[key]; ok {
		delete(p.owner, old)
	}
	p.owner[a], p.addr[key] = key, a
	return true
}

// allocate returns key's address: requested if valid (moving key there
// from any address it held), else the one key holds, else the lowest
// free one.
func (p *pool) allocate(key string, requested netip.Addr) (netip.Addr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if requested.IsValid() {
		switch {
		case !p.contains(requested):
			return netip.Addr{}, fmt.Errorf("%w: %s is not in %s-%s", ErrNotInPool, requested, p.first, p.last)
		case !p.claimLocked(key, requested):
			return netip.Addr{}, fmt.Errorf("%w: %s belongs to %s", ErrInUse, requested, p.owner[requested])
		}
		return requested, nil
	}
	if a, ok := p.addr[key]; ok {
		return a, nil
	}
	for a := p.first; a.IsValid() && p.contains(a); a = a.Next() {
		if _, taken := p.owner[a]; !taken {
			p.owner[a], p.addr[key] = key, a
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%w %s-%s", ErrPoolExhausted, p.first, p.last)
}

// release frees key's address; it reports whether key held one.
func (p *pool) release(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.addr[key]
	if ok {
		delete(p.addr, key)
		delete(p.owner, a)
	}
	return ok
}
