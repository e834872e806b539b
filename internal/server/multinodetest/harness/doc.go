// Package harness runs a mini cluster across hosts built on this machine
// by scripts/mini-hosts: `mini server` in host 0, `mini agent --join` in
// the others, each in its own network namespace with its own data dir
// and containerd, all torn down by PID and namespace when done. The
// multi-node tests (package multinodetest) and the network benchmark
// (internal/server/netbench) use it. It needs root.
package harness
