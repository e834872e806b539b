package endpoint

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Identities allowed to call the endpoint.
const (
	// APIServerClientCN is the common name of the client certificate the
	// API server presents to kubelets (kubeadm's
	// apiserver-kubelet-client).
	APIServerClientCN = "kube-apiserver-kubelet-client"
	mastersGroup      = "system:masters"
)

// authorize lets through only the API server and system:masters. Upstream
// kubelet authenticates the client certificate the same way but then asks
// the API server (SubjectAccessReview) whether the user may use
// nodes/proxy (nodes/log, nodes/healthz...); mini has exactly one client
// that needs the node's API, so a fixed identity check stands in for it.
func authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		subject := r.TLS.VerifiedChains[0][0].Subject
		if subject.CommonName == APIServerClientCN || slices.Contains(subject.Organization, mastersGroup) {
			next.ServeHTTP(w, r)
			return
		}
		// kubelet's wording for a denied request.
		msg := fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)",
			subject.CommonName, verb(r), subresource(r.URL.Path))
		http.Error(w, msg, http.StatusForbidden)
	})
}

func verb(r *http.Request) string {
	switch r.Method {
	case http.MethodPost:
		return "create"
	case http.MethodGet, http.MethodHead:
		return "get"
	}
	return strings.ToLower(r.Method)
}

// subresource is the nodes subresource kubelet would authorise for path.
func subresource(path string) string {
	switch {
	case strings.HasPrefix(path, "/healthz"):
		return "healthz"
	case strings.HasPrefix(path, "/logs"):
		return "log"
	}
	return "proxy"
}
