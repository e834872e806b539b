// Package nodetest holds the end-to-end tests of the real node: `mini
// server` with its agent on a real containerd and runc, pods in network
// namespaces on their own bridge, driven with the bundled kubectl exactly as
// a user drives it. They need root, containerd, runc and busybox-static, and
// are skipped with -short.
package nodetest
