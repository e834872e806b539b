package server

import (
	"net"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/pki"
)

// identity is who a component is to the API.
type identity struct {
	user      string
	groups    []string
	userAgent string
}

// The identities of the server's own components. The controllers act as
// kube-controller-manager; upstream runs each controller as its own
// service account, mini gives them one identity in system:masters for
// now. The scheduler is system:kube-scheduler with exactly upstream's
// bootstrap role.
var (
	identityControllerManager = identity{"system:kube-controller-manager", []string{"system:masters"}, "kube-controller-manager"}
	identityScheduler         = identity{"system:kube-scheduler", nil, "kube-scheduler"}
	// The simulated nodes share one node identity.
	identitySimNodes = identity{"system:node:sim", []string{"system:nodes"}, "mini-sim-nodes"}
)

// loopbackConfig is how a component of the server reaches its API: over
// loopback TLS with a client certificate of its identity, in protobuf as
// upstream's components do. The components run in the server's process,
// so every byte they decode is the server's CPU: a pod decodes several
// times faster from protobuf than from JSON, and each watch event of a
// pod reaches the scheduler, the controllers and the nodes. Clients of
// types without protobuf (the dynamic client) ask for JSON themselves.
func loopbackConfig(ca *pki.CA, apiAddr string, id identity) (*rest.Config, error) {
	_, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.Issue(pki.Request{CommonName: id.user, Organization: id.groups})
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort("127.0.0.1", port),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: certPEM, KeyData: keyPEM},
		UserAgent:       id.userAgent,
		ContentConfig: rest.ContentConfig{
			ContentType:        runtime.ContentTypeProtobuf,
			AcceptContentTypes: runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON,
		},
		QPS: -1, // in-process: no client-side rate limit
	}, nil
}
