package nodeipam

import (
	"errors"
	"fmt"
	"math/big"
	"net/netip"
)

// errCIDRRangeFull is returned by allocateNext when every subnet is in use.
var errCIDRRangeFull = errors.New("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")

// maxSubnetBits bounds the bitmap: a /8 cut into /32s would need 2^24 slots,
// more than any cluster has nodes; upstream refuses such ranges the same way.
const maxSubnetBits = 24

// cidrSet hands out equal subnets of one cluster CIDR. It is a bitmap over
// the subnet indexes plus a rotating cursor, like upstream's cidrset: after
// a release the next allocation does not immediately reuse the freed subnet,
// so a deleted node's stale routes are less likely to catch a new node's pods.
type cidrSet struct {
	cluster  netip.Prefix
	maskSize int
	used     []bool
	inUse    int
	next     int
}

func newCIDRSet(cluster netip.Prefix, maskSize int) (*cidrSet, error) {
	cluster = cluster.Masked()
	if maskSize < cluster.Bits() || maskSize > cluster.Addr().BitLen() {
		return nil, fmt.Errorf("node CIDR mask size /%d does not fit in cluster CIDR %s", maskSize, cluster)
	}
	bits := maskSize - cluster.Bits()
	if bits > maxSubnetBits {
		return nil, fmt.Errorf("cluster CIDR %s cut into /%d gives more than 2^%d subnets", cluster, maskSize, maxSubnetBits)
	}
	return &cidrSet{cluster: cluster, maskSize: maskSize, used: make([]bool, 1<<bits)}, nil
}

// subnet returns the index-th subnet.
func (s *cidrSet) subnet(index int) netip.Prefix {
	base := new(big.Int).SetBytes(s.cluster.Addr().AsSlice())
	offset := new(big.Int).Lsh(big.NewInt(int64(index)), uint(s.cluster.Addr().BitLen()-s.maskSize))
	raw := base.Add(base, offset).FillBytes(make([]byte, s.cluster.Addr().BitLen()/8))
	addr, _ := netip.AddrFromSlice(raw)
	return netip.PrefixFrom(addr, s.maskSize)
}

// index returns the index of subnet p, or false when p is not one of ours
// (outside the cluster CIDR or of another size).
func (s *cidrSet) index(p netip.Prefix) (int, bool) {
	if p.Bits() != s.maskSize || p.Addr().Is4() != s.cluster.Addr().Is4() || !s.cluster.Contains(p.Addr()) {
		return 0, false
	}
	a := new(big.Int).SetBytes(p.Masked().Addr().AsSlice())
	a.Sub(a, new(big.Int).SetBytes(s.cluster.Addr().AsSlice()))
	a.Rsh(a, uint(s.cluster.Addr().BitLen()-s.maskSize))
	return int(a.Int64()), true
}

// allocateNext takes the next free subnet after the cursor.
func (s *cidrSet) allocateNext() (netip.Prefix, error) {
	if s.inUse == len(s.used) {
		return netip.Prefix{}, errCIDRRangeFull
	}
	for i := range len(s.used) {
		idx := (s.next + i) % len(s.used)
		if !s.used[idx] {
			s.used[idx] = true
			s.inUse++
			s.next = (idx + 1) % len(s.used)
			return s.subnet(idx), nil
		}
	}
	return netip.Prefix{}, errCIDRRangeFull
}

// occupy marks p as used; it reports false when p is not in this set.
func (s *cidrSet) occupy(p netip.Prefix) bool {
	idx, ok := s.index(p)
	if !ok {
		return false
	}
	if !s.used[idx] {
		s.used[idx] = true
		s.inUse++
	}
	return true
}

// release returns p to the pool; subnets not in this set are ignored.
func (s *cidrSet) release(p netip.Prefix) {
	if idx, ok := s.index(p); ok && s.used[idx] {
		s.used[idx] = false
		s.inUse--
	}
}
