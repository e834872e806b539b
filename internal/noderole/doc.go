// Package noderole is the node role every machine of a cluster runs: the
// agent (kubelet's role) on containerd, the pod network, the node's
// endpoint for logs and streams, and the node's network components
// (overlay, service proxy, DNS). `mini server` runs it for its own
// machine over loopback; `mini agent --join` runs it alone against a
// remote API, with the identity it obtained by joining. Both run exactly
// this code; they differ only in the Config they give it.
package noderole
