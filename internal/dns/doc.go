// Package dns is the cluster DNS every node serves: the answers CoreDNS's
// kubernetes plugin gives (with `pods insecure`, ttl 5) for the cluster
// domain, and `forward . /etc/resolv.conf` for everything else.
//
// The node answers the cluster DNS address (10.43.0.10) itself: the
// address sits as a /32 on a dummy link the package owns, so a pod's query
// is delivered locally on whichever node it runs, with no Service proxying
// and no DNS pods (the kube-system/kube-dns Service carries the node-local
// label and no endpoints).
//
// Records are kept in memory, built from the Service and EndpointSlice
// informers as events arrive: each name the cluster defines maps to its
// record data, so answering a query is one map lookup.
package dns
