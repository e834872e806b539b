// Package multinodetest holds mini's multi-node end-to-end tests: several
// "hosts" built on this machine as network namespaces on one bridge by
// scripts/mini-hosts, `mini server` in the first, `mini agent --join` in
// the others, each with its own data dir and containerd, for the vxlan and
// the host-gw backend. They check pod-to-pod and Service traffic across
// nodes, NodePort and LoadBalancer addresses from a namespace outside the
// cluster, cluster DNS, joining and leaving. They need root, containerd
// and runc, and skip otherwise and under -short. Nothing they start sends
// traffic off the machine: the hosts' bridge routes nowhere.
package multinodetest
