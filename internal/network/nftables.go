package network

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"mini.dev/mini/internal/runtime"
)

// The table's layout is drawn in doc.go.
const (
	chainPrerouting  = "prerouting"
	chainOutput      = "output"
	chainPostrouting = "postrouting"
	chainHostPorts   = "hostports"
	chainMartians    = "martians"

	// hostPortMark tags packets DNATed to a hostPort, so that postrouting
	// can masquerade the ones whose reply would otherwise miss the node.
	hostPortMark = 0x2000

	// sandboxComment prefixes the comment on each hostPort rule; Teardown
	// finds a sandbox's rules by it, also after a restart.
	sandboxComment = "sandbox="
)

var (
	loopbackNet  = &net.IPNet{IP: net.IPv4(127, 0, 0, 0).To4(), Mask: net.CIDRMask(8, 32)}
	multicastNet = &net.IPNet{IP: net.IPv4(224, 0, 0, 0).To4(), Mask: net.CIDRMask(4, 32)}
)

func (n *Network) table() *nftables.Table {
	return &nftables.Table{Name: n.cfg.Table, Family: nftables.TableFamilyIPv4}
}

func (n *Network) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: n.table()}
}

// ensureTable makes the table and rewrites its static chains for podCIDR,
// in one transaction. Only our own chains are flushed; hostports keeps
// its rules.
func (n *Network) ensureTable(podCIDR *net.IPNet) error {
	n.nftMu.Lock()
	defer n.nftMu.Unlock()
	t := n.nft.AddTable(n.table())
	accept := nftables.ChainPolicyAccept
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio *nftables.ChainPriority) *nftables.Chain {
		c := n.nft.AddChain(&nftables.Chain{Name: name, Table: t, Type: typ, Hooknum: hook, Priority: prio, Policy: &accept})
		n.nft.FlushChain(c)
		return c
	}
	n.nft.AddChain(&nftables.Chain{Name: chainHostPorts, Table: t})

	pre := base(chainPrerouting, nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest)
	out := base(chainOutput, nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest)
	post := base(chainPostrouting, nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource)
	mart := base(chainMartians, nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw)

	for _, c := range []*nftables.Chain{pre, out} {
		n.nft.AddRule(&nftables.Rule{Table: t, Chain: c, Exprs: concat(
			matchDaddrLocal(),
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: chainHostPorts}},
		)})
	}
	for _, src := range []*net.IPNet{podCIDR, loopbackNet} {
		n.nft.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
			matchMark(hostPortMark),
			matchAddr(12, src, expr.CmpOpEq),
			[]expr.Any{&expr.Masq{}},
		)})
	}
	n.nft.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: concat(
		matchAddr(12, podCIDR, expr.CmpOpEq),
		matchAddr(16, n.clusterCIDR, expr.CmpOpNeq),
		matchAddr(16, multicastNet, expr.CmpOpNeq),
		[]expr.Any{&expr.Masq{FullyRandom: true}},
	)})
	n.nft.AddRule(&nftables.Rule{Table: t, Chain: mart, Exprs: concat(
		matchIIFName(n.cfg.Bridge),
		matchAddr(16, loopbackNet, expr.CmpOpEq),
		[]expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}},
	)})
	if err := n.nft.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", n.cfg.Table, err)
	}
	return nil
}

// setHostPorts replaces the sandbox's hostPort rules with rules for ports,
// in one transaction. It returns errNodeNetworkGone when there are rules
// to add but the table or its hostports chain is missing.
func (n *Network) setHostPorts(sandboxID string, podIP net.IP, ports []hostPort) error {
	n.nftMu.Lock()
	defer n.nftMu.Unlock()
	old, chainExists, err := n.sandboxRules(sandboxID)
	if err != nil {
		return err
	}
	if !chainExists && len(ports) > 0 {
		return fmt.Errorf("%w: nftables chain %s %s is missing", errNodeNetworkGone, n.cfg.Table, chainHostPorts)
	}
	if len(old) == 0 && len(ports) == 0 {
		return nil
	}
	for _, r := range old {
		if err := n.nft.DelRule(r); err != nil {
			return err
		}
	}
	comment := userdata.AppendString(nil, userdata.TypeComment, sandboxComment+sandboxID)
	for _, p := range ports {
		n.nft.AddRule(&nftables.Rule{Table: n.table(), Chain: n.chain(chainHostPorts), Exprs: p.exprs(podIP), UserData: comment})
	}
	if err := n.nft.Flush(); err != nil {
		return fmt.Errorf("hostPort rules of sandbox %s: %w", sandboxID, err)
	}
	return nil
}

// removeHostPorts deletes the sandbox's hostPort rules; a missing table is
// no error.
func (n *Network) removeHostPorts(sandboxID string) error {
	return n.setHostPorts(sandboxID, nil, nil)
}

// sandboxRules lists the sandbox's rules in hostports, and whether that
// chain exists. Call with nftMu held.
func (n *Network) sandboxRules(sandboxID string) (rules []*nftables.Rule, chainExists bool, err error) {
	all, err := n.nft.GetRules(n.table(), n.chain(chainHostPorts))
	if err != nil {
		// GetRules does not wrap the kernel's ENOENT: find out whether
		// the chain is absent or the call failed.
		exists, lerr := n.chainExists(chainHostPorts)
		if lerr != nil || exists {
			return nil, exists, errors.Join(fmt.Errorf("list hostPort rules: %w", err), lerr)
		}
		return nil, false, nil
	}
	for _, r := range all {
		if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok && c == sandboxComment+sandboxID {
			rules = append(rules, r)
		}
	}
	return rules, true, nil
}

// chainExists reports whether our table has the chain.
func (n *Network) chainExists(name string) (bool, error) {
	exists, err := n.tableExists()
	if err != nil || !exists {
		return false, err
	}
	chains, err := n.nft.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, fmt.Errorf("list nftables chains: %w", err)
	}
	for _, c := range chains {
		if c.Table.Name == n.cfg.Table && c.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func (n *Network) tableExists() (bool, error) {
	_, err := n.nft.ListTableOfFamily(n.cfg.Table, nftables.TableFamilyIPv4)
	if errors.Is(err, unix.ENOENT) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("nftables table %s: %w", n.cfg.Table, err)
	}
	return true, nil
}

// deleteTable removes our table, and nothing else; a missing table is no
// error.
func (n *Network) deleteTable() error {
	n.nftMu.Lock()
	defer n.nftMu.Unlock()
	exists, err := n.tableExists()
	if err != nil || !exists {
		return err
	}
	n.nft.DelTable(n.table())
	if err := n.nft.Flush(); err != nil {
		return fmt.Errorf("delete nftables table %s: %w", n.cfg.Table, err)
	}
	return nil
}

// hostPort is a validated hostPort mapping.
type hostPort struct {
	proto         uint8
	hostIP        net.IP // nil: every local address
	hostPort      uint16
	containerPort uint16
}

// hostPorts validates mappings and keeps those that take a hostPort on
// IPv4 (mappings without a hostPort, or bound to an IPv6 host address,
// have nothing to program in an ip-family table).
func hostPorts(mappings []runtime.PortMapping) ([]hostPort, error) {
	var out []hostPort
	for _, m := range mappings {
		if m.HostPort == 0 {
			continue
		}
		var proto uint8
		switch strings.ToUpper(m.Protocol) {
		case "", "TCP":
			proto = unix.IPPROTO_TCP
		case "UDP":
			proto = unix.IPPROTO_UDP
		case "SCTP":
			proto = unix.IPPROTO_SCTP
		default:
			return nil, fmt.Errorf("%w: protocol %q", ErrInvalidPortMapping, m.Protocol)
		}
		if m.HostPort < 1 || m.HostPort > 65535 || m.ContainerPort < 1 || m.ContainerPort > 65535 {
			return nil, fmt.Errorf("%w: hostPort %d to containerPort %d", ErrInvalidPortMapping, m.HostPort, m.ContainerPort)
		}
		p := hostPort{proto: proto, hostPort: uint16(m.HostPort), containerPort: uint16(m.ContainerPort)}
		if m.HostIP != "" {
			ip := net.ParseIP(m.HostIP)
			if ip == nil {
				return nil, fmt.Errorf("%w: hostIP %q", ErrInvalidPortMapping, m.HostIP)
			}
			if ip.To4() == nil {
				continue
			}
			if !ip.IsUnspecified() {
				p.hostIP = ip.To4()
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func (p hostPort) String() string {
	host := "*"
	if p.hostIP != nil {
		host = p.hostIP.String()
	}
	return fmt.Sprintf("%d/%s:%d->%d", p.proto, host, p.hostPort, p.containerPort)
}

// exprs is the rule
//
//	meta l4proto P th dport H [ip daddr HOSTIP] meta mark set mark | 0x2000 dnat to POD:C
func (p hostPort) exprs(podIP net.IP) []expr.Any {
	e := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p.proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.hostPort)},
	}
	if p.hostIP != nil {
		e = append(e,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.hostIP.To4()},
		)
	}
	return append(e,
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(^uint32(hostPortMark)),
			Xor:  binaryutil.NativeEndian.PutUint32(hostPortMark)},
		&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Immediate{Register: 1, Data: podIP.To4()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.containerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
}

// matchDaddrLocal is "fib daddr type local".
func matchDaddrLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
	}
}

// matchMark is "meta mark & bit == bit".
func matchMark(bit uint32) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(bit), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// matchAddr is "ip saddr|daddr [!=] cidr": offset 12 is the source, 16
// the destination.
func matchAddr(offset uint32, cidr *net.IPNet, op expr.CmpOp) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(net.IP(cidr.Mask).To4()), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: cidr.IP.To4()},
	}
}

// matchIIFName is "iifname NAME".
func matchIIFName(name string) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(name)},
	}
}

// ifname pads an interface name as the kernel compares it (IFNAMSIZ).
func ifname(name string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return b
}

func concat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
