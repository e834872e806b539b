// Package endpoint is the node agent's kubelet API: the HTTPS server on
// the node's kubelet port (status.daemonEndpoints.kubeletEndpoint) that the
// API server calls for pods/log, pods/exec, pods/attach and
// pods/portforward. It serves kubelet's paths and wire protocols
// (/containerLogs, and /exec, /attach, /portForward over SPDY or
// WebSocket through k8s.io/cri-streaming), so the API server proxies to
// it as kube-apiserver proxies to kubelet.
//
// Callers must present a client certificate from the cluster CA; only the
// API server's kubelet-client identity and system:masters may call.
package endpoint
