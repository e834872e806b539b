// Package nodeipam is upstream's node IPAM controller in its RangeAllocator
// mode (kube-controller-manager --allocate-node-cidrs): it gives every Node
// without spec.podCIDR one subnet (a /24 by default) carved out of the
// cluster CIDR, and never changes a podCIDR a node already has.
//
// As upstream does, the allocation map is rebuilt from the Nodes that exist
// when the controller starts (their podCIDRs are "occupied" before anything
// is handed out), a CIDR returns to the pool when its node is deleted, and a
// node that cannot get one because the range is exhausted gets the event
// "CIDRNotAvailable". With a comma-separated dual-stack cluster CIDR a node
// gets one subnet of each family, in the order given.
package nodeipam
