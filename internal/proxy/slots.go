package proxy

// slots gives each balancing chain its own range of keys in the endpoints
// map. A chain keeps its slot while it exists, so that an endpoint change
// replaces only the elements whose endpoint changed. Slots are taken while
// planning and given back only after the transaction that stops using them
// committed, so a slot is never reused within one transaction.
type slots struct {
	byChain map[string]uint32
	free    []uint32
	next    uint32
	limit   uint32
}

func newSlots() *slots {
	return &slots{byChain: map[string]uint32{}, limit: 1 << (32 - slotBits)}
}

// slot returns chain's slot, taking a free one the first time.
func (s *slots) slot(chain string) (uint32, bool) {
	if n, ok := s.byChain[chain]; ok {
		return n, true
	}
	var n uint32
	switch {
	case len(s.free) > 0:
		n = s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
	case s.next < s.limit:
		n = s.next
		s.next++
	default:
		return 0, false
	}
	s.byChain[chain] = n
	return n, true
}

// retain gives back the slots of chains for which keep is false.
func (s *slots) retain(keep func(chain string) bool) {
	for c, n := range s.byChain {
		if !keep(c) {
			delete(s.byChain, c)
			s.free = append(s.free, n)
		}
	}
}

// release gives back chain's slot, if it has one.
func (s *slots) release(chain string) {
	if n, ok := s.byChain[chain]; ok {
		delete(s.byChain, chain)
		s.free = append(s.free, n)
	}
}
