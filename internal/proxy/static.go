package proxy

import (
	"net/netip"

	"github.com/google/nftables"
)

// baseChain says where a static chain hooks into the stack.
type baseChain struct {
	typ  nftables.ChainType
	hook *nftables.ChainHook
	prio *nftables.ChainPriority
}

func priority(p nftables.ChainPriority) *nftables.ChainPriority { return &p }

// staticChain is a chain that exists whatever the Services are.
type staticChain struct {
	*chainSpec
	base *baseChain
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

// staticChains describes the table's fixed part (see doc.go). Hook
// priorities are upstream's: NAT at dstnat/srcnat, the endpoint checks at
// filter, and filter-output before DNAT (dstnat-10) so a locally sent
// packet to a Service without endpoints is rejected before it is rewritten.
func staticChains(nodeIPs []netip.Addr) []staticChain {
	base := func(name string, typ nftables.ChainType, hook *nftables.ChainHook, prio nftables.ChainPriority, rules ...*rule) staticChain {
		return staticChain{&chainSpec{name: name, rules: rules}, &baseChain{typ, hook, priority(prio)}}
	}
	plain := func(name string, rules ...*rule) staticChain {
		return staticChain{&chainSpec{name: name, rules: rules}, nil}
	}
	// nodeAddr matches the addresses NodePorts answer on.
	nodeAddr := func(r *rule) *rule {
		if len(nodeIPs) > 0 {
			return r.inSet(offDaddr, setNodePortIPs)
		}
		return r.fibLocal(false).prefix(offDaddr, loopback, true)
	}
	return []staticChain{
		base("filter-input", nftables.ChainTypeFilter, nftables.ChainHookInput, *nftables.ChainPriorityFilter,
			newRule().ctStateNew().jump(chainNodePortEPCheck),
			newRule().ctStateNew().jump(chainServiceEPCheck)),
		base("filter-forward", nftables.ChainTypeFilter, nftables.ChainHookForward, *nftables.ChainPriorityFilter,
			newRule().ctStateNew().jump(chainServiceEPCheck)),
		base("filter-output", nftables.ChainTypeFilter, nftables.ChainHookOutput, *nftables.ChainPriorityNATDest-10,
			newRule().ctStateNew().jump(chainServiceEPCheck)),
		base("nat-prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, *nftables.ChainPriorityNATDest,
			newRule().jump(chainServices)),
		base("nat-output", nftables.ChainTypeNAT, nftables.ChainHookOutput, *nftables.ChainPriorityNATDest,
			newRule().jump(chainServices)),
		base("nat-postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, *nftables.ChainPriorityNATSource,
			newRule().jump(chainMasquerading)),
		plain(chainServices,
			newRule().vmapLookup(true, mapServiceIPs),
			nodeAddr(newRule()).vmapLookup(false, mapServiceNodePorts)),
		plain(chainServiceEPCheck, newRule().vmapLookup(true, mapNoEndpointServices)),
		plain(chainNodePortEPCheck, nodeAddr(newRule()).vmapLookup(false, mapNoEndpointNodePort)),
		plain(chainMarkMasq, newRule().setMasqueradeMark()),
		// Hairpin: a pod reaching itself through a Service must be
		// masqueraded or it would answer itself directly. After DNAT its
		// source and destination are the same endpoint address.
		plain(chainMasquerading,
			newRule().ctDNAT().sameAddrs(setHairpin).jump(chainMarkMasq),
			newRule().unmarkedReturn(),
			newRule().clearMasqueradeMark(),
			newRule().masquerade()),
		plain(chainReject,
			newRule().l4proto(6).rejectTCPReset(),
			newRule().reject()),
	}
}
