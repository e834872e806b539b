// Package proxy is mini's service proxy: it programs one nftables table per
// node so that traffic to a Service's ClusterIP, NodePorts, externalIPs and
// LoadBalancer addresses is balanced over the Service's ready endpoints, as
// kube-proxy's nftables mode does.
//
// # Layout of the table (family ip, default name "mini-proxy")
//
//	hook / priority                 chain                    does
//	prerouting nat  dstnat          nat-prerouting ─┐
//	output     nat  dstnat          nat-output ─────┴─ jump services
//	postrouting nat srcnat          nat-postrouting ── jump masquerading
//	input      filter filter        filter-input ───── ct state new: nodeport-endpoints-check,
//	                                                    service-endpoints-check
//	forward    filter filter        filter-forward ─── ct state new: service-endpoints-check
//	output     filter dstnat-10     filter-output ──── ct state new: service-endpoints-check
//
//	services:  ip daddr . meta l4proto . th dport vmap @service-ips
//	           <node address> meta l4proto . th dport vmap @service-nodeports
//	*-endpoints-check: the same lookups in @no-endpoint-services and
//	           @no-endpoint-nodeports, whose verdicts are "goto reject-chain"
//	           (no endpoints at all) or "drop" (no local endpoints under a
//	           Local traffic policy).
//
// Each Service port has its own chains, named after it so that a change to
// one Service rewrites only that Service's chains and map elements:
//
//	service-NS/NAME/PROTO/PORT   all usable endpoints (cluster policy)
//	local-NS/NAME/PROTO/PORT     the node's own endpoints (Local policies)
//	external-NS/NAME/PROTO/PORT  NodePort, externalIPs and LoadBalancer traffic
//
// A service- or local- chain DNATs in one rule, "dnat to numgen random mod
// N offset BASE map @endpoints-M": each such chain owns a slot of 65,536
// keys in an endpoints map, whose elements hold address . port. Why a map
// rather than a chain per endpoint: when a transaction adds a rule or a
// jump/goto verdict, the kernel revalidates every chain reachable from the
// base chains at commit, which with a chain per endpoint at 5,000
// Services took 150-400 ms; an endpoint replaced by another is only a map
// element replaced, which needs no validation, and a change in the number
// of endpoints rewrites one rule in a table that is flat and quick to walk.
// 64 chains share a map: the kernel checks each new data map element
// against every rule bound to its map and each newly bound rule against
// every element, which is quadratic with a single map.
//
// Only Services with sessionAffinity ClientIP (and chains for which no slot
// is left) keep a chain per endpoint, reached through a numgen verdict map:
//
//	endpoint-NS/NAME/PROTO/PORT__IP/PORT   affinity update, DNAT
//	affinity-NS/NAME/PROTO/PORT__IP/PORT   (set) clients stuck to the endpoint
//
// Packets that need source NAT (from outside the cluster CIDR, external
// traffic under the Cluster policy) get mark 0x4000 in mark-for-masquerade;
// the masquerading chain clears it and masquerades. Hairpin traffic (a pod
// reaching itself through a Service) is found there too: a DNATed packet
// whose source and destination are the same endpoint address, matched as
// ip saddr . ip daddr in the hairpin set of addr . addr pairs, as nftables
// cannot compare two fields with each other.
//
// # Syncs
//
// Informer events mark a Service dirty. A sync plans the dirty Services,
// diffs each plan against what was last programmed for that Service and
// sends the difference as one netlink transaction. If a transaction fails,
// or at start, the next sync is a full one: every rule in the table is
// flushed and everything rebuilt in one transaction (the affinity sets that
// are still wanted keep their contents). After the transaction, UDP
// conntrack entries that point at removed endpoints are deleted, and the
// LoadBalancer addresses this node must answer for are put on a dummy
// device.
package proxy
