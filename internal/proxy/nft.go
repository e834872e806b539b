package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Key types of the verdict maps (see doc.go).
var (
	addrProtoPort = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetProto, nftables.TypeInetService)
	protoPort     = nftables.MustConcatSetType(nftables.TypeInetProto, nftables.TypeInetService)
	addrPort      = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeInetService)
	addrAddr      = nftables.MustConcatSetType(nftables.TypeIPAddr, nftables.TypeIPAddr)
)

// elemsPerMessage bounds one NEWSETELEM message: the element list is a
// single netlink attribute, whose length field is 16 bits.
const elemsPerMessage = 128

// socketBuffer is the send and receive buffer of the netlink socket. A full
// sync of thousands of Services is one batch, and the kernel queues an ack
// (and, for rules, an echo) per message before we read any of them.
const socketBuffer = 512 << 20

// kernel applies changes to the table through one netlink socket. It is
// used by one goroutine at a time.
type kernel struct {
	conn    *nftables.Conn
	table   *nftables.Table
	nodeIPs []netip.Addr
}

// newKernel opens the netlink socket in the calling thread's network namespace.
func newKernel(table string, nodeIPs []netip.Addr) (*kernel, error) {
	conn, err := nftables.New(nftables.AsLasting(), nftables.WithSockOptions(forceBuffers))
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	return &kernel{conn: conn, table: &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}, nodeIPs: nodeIPs}, nil
}

// forceBuffers sets large socket buffers, over the sysctl limits when we
// may (root), else as large as allowed.
func forceBuffers(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
			if e := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], socketBuffer); e != nil {
				if e = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBuffer); e != nil {
					serr = e
				}
			}
		}
	})
	return errors.Join(err, serr)
}

func (k *kernel) close() error { return k.conn.CloseLasting() }

func (k *kernel) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: k.table}
}

func (k *kernel) vmap(m mapID) *nftables.Set {
	s := &nftables.Set{Table: k.table, Name: mapNames[m], IsMap: true, DataType: nftables.TypeVerdict, Concatenation: true}
	if m == serviceIPs || m == noEndpointServices {
		s.KeyType = addrProtoPort
	} else {
		s.KeyType = protoPort
	}
	return s
}

// endpointsMap maps numgen results (host order, like marks) to address . port.
func (k *kernel) endpointsMap(name string) *nftables.Set {
	return &nftables.Set{Table: k.table, Name: name, IsMap: true,
		KeyType: nftables.TypeMark, KeyByteOrder: binaryutil.NativeEndian, DataType: addrPort}
}

// hairpinSet holds addr . addr for every endpoint address.
func (k *kernel) hairpinSet() *nftables.Set {
	return &nftables.Set{Table: k.table, Name: setHairpin, KeyType: addrAddr, Concatenation: true}
}

func (k *kernel) affinitySet(s setSpec) *nftables.Set {
	return &nftables.Set{Table: k.table, Name: s.name, KeyType: nftables.TypeIPAddr,
		Dynamic: true, HasTimeout: true, Timeout: s.timeout, Size: 65535}
}

// apply sends ch as one transaction.
func (k *kernel) apply(ch *changes) error {
	if ch.full {
		if err := k.startFull(ch); err != nil {
			return err
		}
	}
	for _, name := range ch.flushChains {
		k.conn.FlushChain(k.chain(name))
	}
	if err := k.elements(ch.delElems, k.conn.SetDeleteElements); err != nil {
		return err
	}
	if err := k.endpoints(ch.delEps, k.conn.SetDeleteElements); err != nil {
		return err
	}
	if err := k.batched(k.hairpinSet(), hairpinElements(ch.delHairpin), k.conn.SetDeleteElements); err != nil {
		return err
	}
	for _, name := range ch.delSets {
		k.conn.DelSet(&nftables.Set{Table: k.table, Name: name})
	}
	for _, name := range ch.delChains {
		k.conn.DelChain(k.chain(name))
	}
	for _, s := range ch.addSets {
		if err := k.conn.AddSet(k.affinitySet(s), nil); err != nil {
			return fmt.Errorf("set %s: %w", s.name, err)
		}
	}
	// Endpoints maps are made when first used and stay (until a full
	// sync) when emptied; adding one that exists changes nothing.
	for _, name := range usedEndpointsMaps(ch) {
		if err := k.conn.AddSet(k.endpointsMap(name), nil); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	if err := k.endpoints(ch.addEps, k.conn.SetAddElements); err != nil {
		return err
	}
	// Chains first, then rules: a rule may jump to a chain added later.
	for _, c := range ch.addChains {
		k.conn.AddChain(k.chain(c.name))
	}
	for _, c := range ch.addChains {
		if err := k.addRules(k.chain(c.name), c.rules); err != nil {
			return err
		}
	}
	if err := k.elements(ch.addElems, k.conn.SetAddElements); err != nil {
		return err
	}
	if err := k.batched(k.hairpinSet(), hairpinElements(ch.addHairpin), k.conn.SetAddElements); err != nil {
		return err
	}
	if err := k.conn.Flush(); err != nil {
		return fmt.Errorf("nftables transaction on table %s: %w", k.table.Name, err)
	}
	return nil
}

// startFull queues the first part of a full sync: the table, all its rules
// flushed, every chain and set that will not be re-added with the same
// shape deleted, and the static chains and maps created afresh. Affinity
// sets that stay keep their clients.
func (k *kernel) startFull(ch *changes) error {
	keepChains := map[string]bool{}
	for _, c := range ch.addChains {
		keepChains[c.name] = true
	}
	keepSets := map[string]setSpec{}
	for _, s := range ch.addSets {
		keepSets[s.name] = s
	}
	var chains []*nftables.Chain
	var sets []*nftables.Set
	if _, err := k.conn.ListTableOfFamily(k.table.Name, k.table.Family); err == nil {
		all, err := k.conn.ListChainsOfTableFamily(k.table.Family)
		if err != nil {
			return fmt.Errorf("list chains: %w", err)
		}
		for _, c := range all {
			if c.Table.Name == k.table.Name {
				chains = append(chains, c)
			}
		}
		if sets, err = k.conn.GetSets(k.table); err != nil {
			return fmt.Errorf("list sets: %w", err)
		}
	} else if !errors.Is(err, syscall.ENOENT) && !strings.Contains(err.Error(), "no such file") {
		return fmt.Errorf("list table %s: %w", k.table.Name, err)
	}

	k.conn.AddTable(k.table)
	k.conn.FlushTable(k.table)
	kept := map[string]bool{}
	for _, s := range sets {
		if s.Anonymous || strings.HasPrefix(s.Name, "__") {
			continue
		}
		if want, ok := keepSets[s.Name]; ok && s.Dynamic && s.Timeout == want.timeout {
			kept[s.Name] = true
			continue
		}
		k.conn.DelSet(s)
	}
	for _, c := range chains {
		// Base chains are re-created too, in case their hook changed.
		if keepChains[c.Name] && c.Hooknum == nil {
			continue
		}
		k.conn.DelChain(c)
	}
	addSets := ch.addSets[:0:0]
	for _, s := range ch.addSets {
		if !kept[s.name] {
			addSets = append(addSets, s)
		}
	}
	ch.addSets = addSets

	for m := range numMaps {
		if err := k.conn.AddSet(k.vmap(m), nil); err != nil {
			return err
		}
	}
	if err := k.conn.AddSet(k.hairpinSet(), nil); err != nil {
		return fmt.Errorf("set %s: %w", setHairpin, err)
	}
	if len(k.nodeIPs) > 0 {
		s := &nftables.Set{Table: k.table, Name: setNodePortIPs, KeyType: nftables.TypeIPAddr}
		var elems []nftables.SetElement
		for _, ip := range k.nodeIPs {
			a := ip.As4()
			elems = append(elems, nftables.SetElement{Key: a[:]})
		}
		if err := k.conn.AddSet(s, elems); err != nil {
			return err
		}
	}
	static := staticChains(k.nodeIPs)
	accept := nftables.ChainPolicyAccept
	for _, c := range static {
		nc := k.chain(c.name)
		if c.base != nil {
			nc.Type, nc.Hooknum, nc.Priority, nc.Policy = c.base.typ, c.base.hook, c.base.prio, &accept
		}
		k.conn.AddChain(nc)
	}
	for _, c := range static {
		if err := k.addRules(k.chain(c.name), c.rules); err != nil {
			return err
		}
	}
	return nil
}

func (k *kernel) addRules(c *nftables.Chain, rules []*rule) error {
	for _, r := range rules {
		if r.anon != nil {
			set := &nftables.Set{Table: k.table, Name: r.anon.name, IsMap: true,
				KeyType: nftables.TypeMark, DataType: nftables.TypeVerdict, KeyByteOrder: binaryutil.NativeEndian}
			elems := make([]nftables.SetElement, len(r.anon.chains))
			for i, name := range r.anon.chains {
				elems[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i)),
					VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: name}}
			}
			if err := k.conn.AddSet(set, nil); err != nil {
				return fmt.Errorf("balancing map of chain %s: %w", c.Name, err)
			}
			for len(elems) > 0 {
				n := min(len(elems), elemsPerMessage)
				if err := k.conn.SetAddElements(set, elems[:n]); err != nil {
					return fmt.Errorf("balancing map of chain %s: %w", c.Name, err)
				}
				elems = elems[n:]
			}
		}
		k.conn.AddRule(&nftables.Rule{Table: k.table, Chain: c, Exprs: r.exprs})
	}
	return nil
}

// elements queues adds or deletes of map elements, grouped by map.
func (k *kernel) elements(elems []elem, op func(*nftables.Set, []nftables.SetElement) error) error {
	if len(elems) == 0 {
		return nil
	}
	var byMap [numMaps][]nftables.SetElement
	for _, e := range elems {
		byMap[e.m] = append(byMap[e.m], k.element(e))
	}
	for m, list := range byMap {
		if err := k.batched(k.vmap(mapID(m)), list, op); err != nil {
			return err
		}
	}
	return nil
}

// batched queues op on elems of set, elemsPerMessage at a time.
func (k *kernel) batched(set *nftables.Set, elems []nftables.SetElement, op func(*nftables.Set, []nftables.SetElement) error) error {
	for len(elems) > 0 {
		n := min(len(elems), elemsPerMessage)
		if err := op(set, elems[:n]); err != nil {
			return fmt.Errorf("set %s: %w", set.Name, err)
		}
		elems = elems[n:]
	}
	return nil
}

// endpoints queues op on endpoints map elements, grouped by map.
func (k *kernel) endpoints(eps []epElem, op func(*nftables.Set, []nftables.SetElement) error) error {
	byMap := map[string][]epElem{}
	for _, e := range eps {
		name := endpointsMapOf(e.key)
		byMap[name] = append(byMap[name], e)
	}
	for name, list := range byMap {
		if err := k.batched(k.endpointsMap(name), epElements(list), op); err != nil {
			return err
		}
	}
	return nil
}

// usedEndpointsMaps lists the endpoints maps that ch adds elements to or
// rules for.
func usedEndpointsMaps(ch *changes) []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, e := range ch.addEps {
		add(endpointsMapOf(e.key))
	}
	for _, c := range ch.addChains {
		for _, r := range c.rules {
			if r.epMap != "" {
				add(r.epMap)
			}
		}
	}
	return out
}

// epElements encodes endpoints map elements: the key in host order (numgen's
// result), the value address . port with the port padded to 4 bytes.
func epElements(eps []epElem) []nftables.SetElement {
	out := make([]nftables.SetElement, len(eps))
	for i, e := range eps {
		a := e.ip.As4()
		out[i] = nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(e.key),
			Val: []byte{a[0], a[1], a[2], a[3], byte(e.port >> 8), byte(e.port), 0, 0}}
	}
	return out
}

func hairpinElements(ips []netip.Addr) []nftables.SetElement {
	out := make([]nftables.SetElement, len(ips))
	for i, ip := range ips {
		a := ip.As4()
		out[i] = nftables.SetElement{Key: []byte{a[0], a[1], a[2], a[3], a[0], a[1], a[2], a[3]}}
	}
	return out
}

// element encodes a map element; each part of a concatenated key is padded
// to 4 bytes, as the registers it is compared against.
func (k *kernel) element(e elem) nftables.SetElement {
	var key []byte
	if e.ip.IsValid() {
		a := e.ip.As4()
		key = append(key, a[:]...)
	}
	key = append(key, e.proto, 0, 0, 0, byte(e.port>>8), byte(e.port), 0, 0)
	v := &expr.Verdict{Kind: expr.VerdictDrop}
	if e.target != "" {
		v = &expr.Verdict{Kind: expr.VerdictGoto, Chain: e.target}
	}
	return nftables.SetElement{Key: key, VerdictData: v}
}
