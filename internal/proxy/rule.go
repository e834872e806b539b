package proxy

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// rule is one nftables rule built twice at once: as kernel expressions to
// program and as nft-syntax text, which is what plans are compared by (a
// chain is rewritten only when its text changes) and what tests read.
type rule struct {
	text  []string
	exprs []expr.Any
	// anon is the balancing map the rule looks up, if any; it is added
	// with the rule.
	anon *anonMap
	// epMap is the endpoints map the rule DNATs through, if any; it is
	// created when first used.
	epMap string
}

// anonMap is a numgen vmap: key i goes to chains[i].
type anonMap struct {
	name   string
	chains []string
}

func newRule() *rule { return &rule{} }

func (r *rule) String() string { return strings.Join(r.text, " ") }

func (r *rule) add(text string, e ...expr.Any) *rule {
	r.text = append(r.text, text)
	r.exprs = append(r.exprs, e...)
	return r
}

const (
	offSaddr = 12
	offDaddr = 16
)

func loadAddr(off uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: 4}
}

func addrName(off uint32) string {
	if off == offSaddr {
		return "ip saddr"
	}
	return "ip daddr"
}

// addr matches the source or destination address against ip.
func (r *rule) addr(off uint32, ip netip.Addr) *rule {
	a := ip.As4()
	return r.add(addrName(off)+" "+ip.String(), loadAddr(off),
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
}

// prefix matches (or, with neq, excludes) an address range.
func (r *rule) prefix(off uint32, p netip.Prefix, neq bool) *rule {
	op, word := expr.CmpOpEq, " "
	if neq {
		op, word = expr.CmpOpNeq, " != "
	}
	net := p.Masked().Addr().As4()
	mask := prefixMask(p.Bits())
	return r.add(addrName(off)+word+p.Masked().String(), loadAddr(off),
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}},
		&expr.Cmp{Op: op, Register: 1, Data: net[:]})
}

func prefixMask(bits int) []byte {
	m := make([]byte, 4)
	binary.BigEndian.PutUint32(m, ^uint32(0)<<(32-bits))
	return m
}

// inSet matches an address against a named set.
func (r *rule) inSet(off uint32, set string) *rule {
	return r.add(addrName(off)+" @"+set, loadAddr(off),
		&expr.Lookup{SourceRegister: 1, SetName: set})
}

func (r *rule) l4proto(p uint8) *rule {
	return r.add("meta l4proto "+protoName(p),
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
}

func (r *rule) ctStateNew() *rule {
	return r.add("ct state new",
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitNEW), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
}

// fibLocal matches packets whose source or destination is a local address.
func (r *rule) fibLocal(saddr bool) *rule {
	word := "fib daddr type local"
	if saddr {
		word = "fib saddr type local"
	}
	return r.add(word,
		&expr.Fib{Register: 1, FlagSADDR: saddr, FlagDADDR: !saddr, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
}

// vmapLookup looks the packet up in a named verdict map keyed by
// [ip daddr .] meta l4proto . th dport. The concatenation lives in 32-bit
// registers: the address in reg 1 (= reg32 8), then one register each.
func (r *rule) vmapLookup(withDaddr bool, set string) *rule {
	text := "meta l4proto . th dport vmap @" + set
	var e []expr.Any
	reg := uint32(1)
	if withDaddr {
		text = "ip daddr . " + text
		e = append(e, loadAddr(offDaddr))
		reg = 9
	}
	e = append(e,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg},
		&expr.Payload{DestRegister: nextReg(reg), Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: set})
	return r.add(text, e...)
}

func nextReg(reg uint32) uint32 {
	if reg == 1 {
		return 9
	}
	return reg + 1
}

func (r *rule) jump(chain string) *rule {
	return r.add("jump "+chain, &expr.Verdict{Kind: expr.VerdictJump, Chain: chain})
}

func (r *rule) goTo(chain string) *rule {
	return r.add("goto "+chain, &expr.Verdict{Kind: expr.VerdictGoto, Chain: chain})
}

// random spreads packets evenly over chains: numgen random mod n vmap
// @balance-CHAIN. The map is named rather than anonymous so that nft lists
// its keys right (the library marks anonymous sets big-endian, numgen's
// result is host order); it lives and dies with the chain.
func (r *rule) random(chain string, chains []string) *rule {
	name := balanceMap(chain)
	r.anon = &anonMap{name: name, chains: chains}
	return r.add("numgen random mod "+strconv.Itoa(len(chains))+" vmap @"+name+" { "+balanceElems(chains)+" }",
		&expr.Numgen{Register: 1, Modulus: uint32(len(chains)), Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: name})
}

func balanceMap(chain string) string { return "balance-" + chain }

func balanceElems(chains []string) string {
	var b strings.Builder
	for i, c := range chains {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" : goto ")
		b.WriteString(c)
	}
	return b.String()
}

// affinityUpdate records the client in an affinity set (refreshing its timeout).
func (r *rule) affinityUpdate(set string) *rule {
	return r.add("update @"+set+" { ip saddr }", loadAddr(offSaddr),
		&expr.Dynset{SrcRegKey: 1, SetName: set, Operation: unix.NFT_DYNSET_OP_UPDATE})
}

func (r *rule) dnat(proto uint8, ip netip.Addr, port uint16) *rule {
	a := ip.As4()
	r.l4proto(proto)
	return r.add("dnat to "+netip.AddrPortFrom(ip, port).String(),
		&expr.Immediate{Register: 1, Data: a[:]},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
}

// dnatPick DNATs to one of n endpoints picked at random from an endpoints
// map, whose keys base..base+n-1 hold this chain's endpoints as address .
// port. Changing an endpoint then only replaces a map element, which,
// unlike a rule or a verdict, does not make the kernel revalidate every
// chain of the table at commit. The lookup leaves the address in register
// 1 and the port in the 32-bit register after it (9), as nft encodes
// "dnat to ... map { ... : ip . port }".
func (r *rule) dnatPick(proto uint8, n int, base uint32) *rule {
	r.l4proto(proto)
	text := "dnat ip to numgen random mod " + strconv.Itoa(n)
	if base != 0 {
		text += " offset " + strconv.FormatUint(uint64(base), 10)
	}
	r.epMap = endpointsMapOf(base)
	return r.add(text+" map @"+r.epMap,
		&expr.Numgen{Register: 1, Modulus: uint32(n), Offset: base, Type: unix.NFT_NG_RANDOM},
		&expr.Lookup{SourceRegister: 1, DestRegister: 1, IsDestRegSet: true, SetName: r.epMap},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 9, Specified: true})
}

// ctDNAT matches connections whose destination was rewritten.
func (r *rule) ctDNAT() *rule {
	return r.add("ct status dnat",
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)})
}

// ipsDstNAT is the conntrack status bit of a DNATed connection (IPS_DST_NAT).
const ipsDstNAT = 1 << 5

// sameAddrs matches packets whose source equals their destination, by
// looking ip saddr . ip daddr up in a set of addr . addr pairs: nftables
// cannot compare two registers with each other.
func (r *rule) sameAddrs(set string) *rule {
	return r.add("ip saddr . ip daddr @"+set,
		loadAddr(offSaddr),
		&expr.Payload{DestRegister: 9, Base: expr.PayloadBaseNetworkHeader, Offset: offDaddr, Len: 4},
		&expr.Lookup{SourceRegister: 1, SetName: set})
}

const masqueradeMark = 0x4000

func (r *rule) setMasqueradeMark() *rule {
	return r.add("meta mark set meta mark | 0x00004000",
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(masqueradeMark)), Xor: binaryutil.NativeEndian.PutUint32(masqueradeMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
}

func (r *rule) unmarkedReturn() *rule {
	return r.add("meta mark & 0x00004000 == 0x00000000 return",
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(masqueradeMark), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Verdict{Kind: expr.VerdictReturn})
}

func (r *rule) clearMasqueradeMark() *rule {
	return r.add("meta mark set meta mark ^ 0x00004000",
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(0)), Xor: binaryutil.NativeEndian.PutUint32(masqueradeMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
}

func (r *rule) masquerade() *rule {
	return r.add("masquerade fully-random", &expr.Masq{FullyRandom: true})
}

func (r *rule) rejectTCPReset() *rule {
	return r.add("reject with tcp reset", &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
}

func (r *rule) reject() *rule {
	return r.add("reject", &expr.Reject{Type: unix.NFT_REJECT_ICMP_UNREACH, Code: 3}) // ICMP_PORT_UNREACH
}

func protoName(p uint8) string {
	switch p {
	case unix.IPPROTO_TCP:
		return "tcp"
	case unix.IPPROTO_UDP:
		return "udp"
	case unix.IPPROTO_SCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// chainSpec is one chain's wanted content.
type chainSpec struct {
	name  string
	rules []*rule
	// salt is hashed with the rules: it forces a rewrite when something the
	// rules depend on but do not spell out changes (an affinity set's timeout).
	salt string
}

// sum fingerprints the chain's content.
func (c *chainSpec) sum() uint64 {
	h := fnv.New64a()
	h.Write([]byte(c.salt))
	for _, r := range c.rules {
		for _, t := range r.text {
			h.Write([]byte(t))
			h.Write([]byte{' '})
		}
		h.Write([]byte{'\n'})
	}
	return h.Sum64()
}

func (c *chainSpec) String() string {
	var b strings.Builder
	b.WriteString("chain " + c.name + " {\n")
	for _, r := range c.rules {
		b.WriteString("\t" + r.String() + "\n")
	}
	b.WriteString("}\n")
	return b.String()
}
