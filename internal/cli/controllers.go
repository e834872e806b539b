package cli

import (
	"context"
	"log/slog"
	"net"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/controller/namespace"
	"mini.dev/mini/internal/pki"
)

// loopbackConfig is how the server's own controllers reach its API: over
// loopback TLS, as the controller manager. For now it is a member of
// system:masters; upstream's per-controller service accounts come with the
// rest of the controllers.
func loopbackConfig(ca *pki.CA, apiAddr string) (*rest.Config, error) {
	_, port, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.Issue(pki.Request{CommonName: "system:kube-controller-manager", Organization: []string{"system:masters"}})
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            "https://" + net.JoinHostPort("127.0.0.1", port),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: certPEM, KeyData: keyPEM},
		UserAgent:       "kube-controller-manager",
		QPS:             -1, // in-process: no client-side rate limit
	}, nil
}

// runControllers runs the controllers until ctx ends.
func runControllers(ctx context.Context, cfg *rest.Config, logger *slog.Logger) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ns, err := namespace.New(namespace.Config{Client: client, Dynamic: dyn, Logger: logger})
	if err != nil {
		return err
	}
	return ns.Run(ctx)
}
