package proxy

import (
	"net/netip"
	"slices"
)

// record is what was last programmed for one Service: only names and
// fingerprints, so that keeping it for every Service stays cheap.
type record struct {
	chains  []chainRec
	elems   []elem
	eps     []epElem
	hairpin []netip.Addr
	sets    []setSpec
	udp     []udpPort
	lbAddrs []netip.Addr
}

type chainRec struct {
	name string
	sum  uint64
	// balance says the chain has a balancing map, deleted with it.
	balance bool
}

func (c *chainSpec) hasBalance() bool {
	for _, r := range c.rules {
		if r.anon != nil {
			return true
		}
	}
	return false
}

// changes is one transaction's worth of work, in the order it must be
// sent: first everything that drops references (flushed chains, deleted
// elements), then deletions of what is no longer referenced, then additions.
type changes struct {
	full        bool
	flushChains []string
	delElems    []elem
	delEps      []epElem
	delHairpin  []netip.Addr
	delSets     []string
	delChains   []string
	addSets     []setSpec
	addChains   []*chainSpec
	addElems    []elem
	addEps      []epElem
	addHairpin  []netip.Addr
}

func (c *changes) empty() bool {
	return !c.full && len(c.flushChains) == 0 && len(c.delElems) == 0 && len(c.delSets) == 0 &&
		len(c.delChains) == 0 && len(c.addSets) == 0 && len(c.addChains) == 0 && len(c.addElems) == 0 &&
		len(c.delEps) == 0 && len(c.addEps) == 0 && len(c.delHairpin) == 0 && len(c.addHairpin) == 0
}

// diff appends to ch what turns old (nil: nothing programmed) into p and
// returns the record of p.
func diff(old *record, p *servicePlan, ch *changes) *record {
	if old == nil {
		old = &record{}
	}
	rec := &record{elems: p.elems, eps: p.eps, hairpin: p.hairpin, sets: p.sets, udp: p.udp, lbAddrs: p.lbAddrs}
	if len(p.chains) > 0 {
		rec.chains = make([]chainRec, len(p.chains))
	}
	oldChains := make(map[string]chainRec, len(old.chains))
	for _, c := range old.chains {
		oldChains[c.name] = c
	}
	for i, c := range p.chains {
		sum := c.sum()
		rec.chains[i] = chainRec{c.name, sum, c.hasBalance()}
		prev, existed := oldChains[c.name]
		delete(oldChains, c.name)
		switch {
		case existed && prev.sum == sum:
		case existed:
			ch.flushChains = append(ch.flushChains, c.name)
			ch.addChains = append(ch.addChains, c)
			if prev.balance {
				ch.delSets = append(ch.delSets, balanceMap(c.name))
			}
		default:
			ch.addChains = append(ch.addChains, c)
		}
	}
	for _, c := range old.chains {
		if _, gone := oldChains[c.name]; gone {
			// Flushed first: its rules may reference other chains
			// deleted in the same transaction.
			ch.flushChains = append(ch.flushChains, c.name)
			ch.delChains = append(ch.delChains, c.name)
			if c.balance {
				ch.delSets = append(ch.delSets, balanceMap(c.name))
			}
		}
	}

	for _, e := range old.elems {
		if !slices.Contains(p.elems, e) {
			ch.delElems = append(ch.delElems, e)
		}
	}
	for _, e := range p.elems {
		if !slices.Contains(old.elems, e) {
			ch.addElems = append(ch.addElems, e)
		}
	}

	// Endpoints map elements, by key: a changed endpoint is its old
	// element deleted and the new one added in the same transaction.
	if len(old.eps) > 0 || len(p.eps) > 0 {
		newEps := make(map[uint32]epElem, len(p.eps))
		for _, e := range p.eps {
			newEps[e.key] = e
		}
		oldEps := make(map[uint32]epElem, len(old.eps))
		for _, e := range old.eps {
			oldEps[e.key] = e
			if n, ok := newEps[e.key]; !ok || n != e {
				ch.delEps = append(ch.delEps, e)
			}
		}
		for _, e := range p.eps {
			if o, ok := oldEps[e.key]; !ok || o != e {
				ch.addEps = append(ch.addEps, e)
			}
		}
	}

	for _, s := range old.sets {
		if !slices.Contains(p.sets, s) {
			ch.delSets = append(ch.delSets, s.name)
		}
	}
	for _, s := range p.sets {
		if !slices.Contains(old.sets, s) {
			ch.addSets = append(ch.addSets, s)
		}
	}
	return rec
}
