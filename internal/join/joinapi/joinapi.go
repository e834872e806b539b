// Package joinapi is the wire format of the join endpoint the API server
// serves and `mini agent --join` calls: its paths, the request and the
// answer. Both sides import it so that they cannot drift apart.
package joinapi

// Paths on the API server's HTTPS port, beside the Kubernetes API (as
// k3s serves /cacerts and /v1-k3s/... beside its API).
const (
	// CACertsPath answers GET, without authentication, with the cluster
	// CA's PEM; the joining machine checks its hash against the token
	// before it trusts anything else the server says.
	CACertsPath = "/v1-mini/cacerts"
	// NodeCertsPath answers POST of a NodeCertsRequest, authenticated by
	// a bootstrap token (Authorization: Bearer <id>.<secret>), with a
	// NodeCertsResponse.
	NodeCertsPath = "/v1-mini/node-certs"
)

// NodeCertsRequest asks for a node's certificates. The private keys stay
// on the node: it sends certificate requests.
type NodeCertsRequest struct {
	NodeName string `json:"nodeName"`
	NodeIP   string `json:"nodeIP"`
	// Password is the node's random secret, kept in its data dir; the
	// first join of a name stores its hash, and a machine with another
	// password cannot claim the name (k3s's node-password).
	Password string `json:"password"`
	// ClientCSR and ServingCSR are PEM certificate requests for the
	// node's API client key and its endpoint's serving key.
	ClientCSR  string `json:"clientCSR"`
	ServingCSR string `json:"servingCSR"`
}

// NodeCertsResponse carries the node's certificates.
type NodeCertsResponse struct {
	// CACert is the cluster CA's PEM: it verifies the API server, and
	// the API server's client certificate at the node's endpoint.
	CACert string `json:"caCert"`
	// ClientCert is for system:node:<name> in group system:nodes.
	ClientCert string `json:"clientCert"`
	// ServingCert is for the node's endpoint: the node name and IP.
	ServingCert string `json:"servingCert"`
	// ClusterCIDR is the network every node's pod CIDR comes from.
	ClusterCIDR string `json:"clusterCIDR,omitempty"`
}
