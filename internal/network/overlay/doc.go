// Package overlay connects the pod networks of the cluster's nodes, as
// flannel does with its Kubernetes subnet manager: every node learns the
// others' pod CIDRs (node.spec.podCIDR, given by the server's node IPAM)
// and how to reach them (Node annotations the overlay of each node
// writes on its own Node), and programs the kernel of its own network
// namespace to match. The annotations are flannel's, so tools that read
// them (and people used to k3s) find what they expect.
//
// Backends:
//
// vxlan (the default) makes one VXLAN device, "flannel.1": VNI 1, UDP
// 8472, source address the node's public IP, bound to the underlay link,
// learning off, MTU the underlay's minus the 50 bytes of encapsulation,
// address the network address of the node's pod CIDR as a /32. For every
// other node it adds three entries, each for one step of the lookup a
// packet to a remote pod goes through:
//
//	route  10.42.2.0/24 via 10.42.2.0 dev flannel.1 onlink
//	       the remote pod CIDR is behind the remote VTEP, whose address
//	       is that CIDR's network address; onlink because no subnet on
//	       flannel.1 holds it.
//	neigh  10.42.2.0 lladdr <remote VtepMAC> dev flannel.1 permanent
//	       the kernel never has to ARP over the tunnel (nothing would
//	       answer: learning is off and there is no multicast group).
//	fdb    <remote VtepMAC> dst <remote public IP> dev flannel.1 self permanent
//	       the VXLAN driver sends frames for that MAC to that host.
//
// host-gw adds one route per other node, "10.42.2.0/24 via <remote public
// IP> dev <underlay>", which works when the nodes share a layer 2 link.
//
// none programs nothing (another CNI owns the network) and removes what
// an earlier backend left.
//
// Reconciling is a diff, never a flush: the overlay reads what is in the
// kernel (the routes it made carry their own route protocol number, so it
// knows them after a restart; the device's neighbour and FDB entries are
// all its own) and changes only what differs. Restarting an agent
// therefore leaves the live entries, and the traffic over them, alone;
// an existing device is reused, so its VTEP MAC (which the other nodes
// know from the annotation) stays, and a device that must be made again
// takes the MAC the annotation already carries. Stopping Run changes
// nothing in the kernel; Teardown removes it all.
package overlay
