package apiserver

// The API server reaches a node's kubelet endpoint (the agent's
// internal/agent/endpoint) for pods/log, exec, attach and portforward, as
// kube-apiserver reaches kubelet: HTTPS to the node's address and
// status.daemonEndpoints.kubeletEndpoint.Port, the node's serving
// certificate verified against the cluster CA, and a client certificate
// for the identity kubelets let in (kube-apiserver-kubelet-client). The
// API server issues that certificate itself from the CA it already holds,
// once, on first use.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"mini.dev/mini/internal/pki"
)

// kubeletClientCN is the user kubelets see the API server as (kubeadm's
// apiserver-kubelet-client certificate).
const kubeletClientCN = "kube-apiserver-kubelet-client"

var nodesGVR = corev1.SchemeGroupVersion.WithResource("nodes")

// kubeletClient holds the transport to kubelets, built on first use.
type kubeletClient struct {
	once      sync.Once
	transport *http.Transport
	err       error
}

// kubeletTransport returns the HTTP/1.1 transport for kubelet endpoints:
// upgrades (SPDY, WebSocket) need HTTP/1.1.
func (s *Server) kubeletTransport() (*http.Transport, error) {
	c := &s.kubelet
	c.once.Do(func() {
		certPEM, keyPEM, err := s.cfg.CA.Issue(pki.Request{CommonName: kubeletClientCN})
		if err != nil {
			c.err = fmt.Errorf("issuing the kubelet client certificate: %w", err)
			return
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			c.err = err
			return
		}
		c.transport = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			TLSClientConfig: &tls.Config{
				Certificates: []tls.Certificate{cert},
				RootCAs:      s.cfg.CA.Pool(),
				MinVersion:   tls.VersionTLS12,
				NextProtos:   []string{"http/1.1"},
			},
			MaxIdleConnsPerHost: 25,
			IdleConnTimeout:     90 * time.Second,
		}
	})
	return c.transport, c.err
}

// kubeletLocation is the URL of path on the kubelet of the node running
// pod, as upstream's pod.*Location helpers build it.
func (s *Server) kubeletLocation(ctx context.Context, pod *corev1.Pod, path string, query url.Values) (*url.URL, error) {
	nodeName := pod.Spec.NodeName
	if nodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	res, ok := s.cfg.Registry.Lookup(nodesGVR)
	if !ok {
		return nil, apierrors.NewInternalError(fmt.Errorf("nodes are not served"))
	}
	obj, _, err := s.getObject(ctx, res, "", nodeName)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("node %q running pod %s not found", nodeName, pod.Name))
		}
		return nil, err
	}
	node := obj.(*corev1.Node)
	host := nodeAddress(node)
	if host == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node %q has no InternalIP or Hostname address", nodeName))
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		// Simulated nodes run no processes and serve no kubelet API.
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node %q has no kubelet endpoint (status.daemonEndpoints.kubeletEndpoint.port is not set): it serves no logs, exec, attach or port-forward", nodeName))
	}
	return &url.URL{
		Scheme:   "https",
		Host:     net.JoinHostPort(host, strconv.Itoa(int(port))),
		Path:     path,
		RawQuery: query.Encode(),
	}, nil
}

// nodeAddress picks the address to reach a node's kubelet by: its
// InternalIP, else its Hostname.
func nodeAddress(node *corev1.Node) string {
	for _, want := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == want && a.Address != "" {
				return a.Address
			}
		}
	}
	return ""
}
