// Package network is the node's pod network: the bridge mini0 with the
// gateway address of the node's pod CIDR, one network namespace and veth
// pair per pod sandbox, and one nftables table ("mini-podnet", family ip)
// for what the pod network needs from netfilter: masquerade of pod traffic
// leaving the cluster CIDR and hostPort DNAT.
//
// It does what kubelet's CNI plugins (bridge, host-local's caller, portmap)
// do for a containerd node, directly through netlink and nftables, with no
// `ip` or `nft` binary and no br_netfilter: pod-to-pod traffic on the node
// is switched by the bridge and never needs netfilter; only traffic routed
// through the node (to the gateway, out of the node, to a hostPort) is.
//
// A Network works on the network namespace that was current on the
// calling thread when New ran (the host's, or a test's throwaway one): it
// keeps handles to it, so later calls may run on any goroutine.
//
// The table, as `nft list table ip mini-podnet` shows it:
//
//	chain prerouting  { type nat hook prerouting priority dstnat;  fib daddr type local jump hostports }
//	chain output      { type nat hook output priority dstnat;      fib daddr type local jump hostports }
//	chain hostports   { one rule per hostPort, commented "sandbox=<id>":
//	                    meta l4proto tcp th dport 8080 [ip daddr HOSTIP] meta mark set mark | 0x2000 dnat to POD:80 }
//	chain postrouting { type nat hook postrouting priority srcnat;
//	                    mark 0x2000 set, ip saddr POD-CIDR masquerade   (a pod reaching a hostPort, itself included:
//	                                                                     the reply must come back through the node)
//	                    mark 0x2000 set, ip saddr 127.0.0.0/8 masquerade (the node reaching a hostPort on localhost)
//	                    ip saddr POD-CIDR ip daddr != CLUSTER-CIDR ip daddr != 224.0.0.0/4 masquerade fully-random }
//	chain martians    { type filter hook prerouting priority raw;  iifname mini0 ip daddr 127.0.0.0/8 drop }
//
// hostports is entered from prerouting (connections from other hosts and
// from pods) and from output (connections from the node itself), only for
// destinations that are the node's own addresses, as kubelet's portmap does
// with "addrtype --dst-type LOCAL". Localhost hostPorts need route_localnet
// on the bridge, which would let pods reach the node's loopback services;
// the martians chain drops such packets before anything else sees them
// (kube-proxy's fix for CVE-2020-8558).
package network
