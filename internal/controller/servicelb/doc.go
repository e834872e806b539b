// Package servicelb gives Services of type LoadBalancer their external
// addresses, as k3s's ServiceLB and MetalLB's layer-2 mode do for
// clusters with no cloud load balancer.
//
// Without a pool (the default) a LoadBalancer Service's
// status.loadBalancer.ingress lists the InternalIPs of the Ready nodes
// (ServiceLB's behaviour): every node's proxy answers on them.
//
// With a pool (`--lb-pool START-END`) each Service gets one address from
// it (spec.loadBalancerIP if that is in the pool and free), and one Ready
// node, named in the annotation mini.dev/lb-node, announces it on the
// node network (MetalLB's layer 2 speaker): the node is picked by hashing
// the Service's key over the sorted Ready node names and kept while it
// stays Ready. Allocations live only in the Services' statuses, which
// the controller reads back when it starts, so addresses survive a
// restart.
//
// Services with spec.loadBalancerClass belong to another implementation
// and are left alone. A Service that stops being a LoadBalancer, or is
// deleted, gives its address back and its status is cleared.
package servicelb
