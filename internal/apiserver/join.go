package apiserver

// The join endpoint: how `mini agent --join` becomes a node, as k3s's
// agents do against /cacerts and /v1-k3s/client-kubelet.crt. Two calls
// beside the Kubernetes API on the same port:
//
//   - GET cacerts, unauthenticated, gives the CA's PEM. The agent trusts
//     it only if its hash is the one its token carries; from then on it
//     verifies the server against that CA.
//   - POST node-certs, authenticated by the token's bootstrap token (a
//     Secret kube-system/bootstrap-token-<id>, as kubeadm keeps them),
//     signs the node's two certificate requests: its API client
//     (system:node:<name> in system:nodes, which RBAC's system:node role
//     is bound to) and its endpoint's serving certificate (node name and
//     IP, which the API server verifies when it calls the node for logs
//     and exec).
//
// A node name belongs to the first machine that joins with it: the
// request carries the machine's random password, whose hash the first
// join stores in the Secret kube-system/<name>.node-password.mini (k3s's
// node-password); another password is refused, so one machine cannot take
// over another's node and its pods.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/join/joinapi"
	"mini.dev/mini/internal/pki"
)

const (
	// nodePasswordSuffix names a node's password Secret: <node>.node-password.mini.
	nodePasswordSuffix = ".node-password.mini"
	// secretTypeNodePassword is the type of those Secrets.
	secretTypeNodePassword = corev1.SecretType("mini.dev/node-password")
	nodePasswordHashKey    = "hash"
	// joinManager is the field manager of what the endpoint writes.
	joinManager = "mini-join"
	// maxJoinBody bounds a node-certs request: two CSRs and a few names.
	maxJoinBody = 64 << 10
)

var secretsGVR = corev1.SchemeGroupVersion.WithResource("secrets")

// serveJoin registers the join endpoint on mux.
func (s *Server) serveJoin(mux *http.ServeMux) {
	mux.HandleFunc("GET "+joinapi.CACertsPath, s.serveCACerts)
	mux.HandleFunc("POST "+joinapi.NodeCertsPath, s.serveNodeCerts)
}

func (s *Server) serveCACerts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(s.cfg.CA.CertPEM)
}

func (s *Server) serveNodeCerts(w http.ResponseWriter, r *http.Request) {
	// The endpoint reads and writes kube-system's Secrets as the server
	// itself: the caller is only a token holder.
	ctx := asLoopback(r.Context())
	tokenID, err := s.authenticateBootstrapToken(ctx, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req joinapi.NodeCertsRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, maxJoinBody)).Decode(&req); err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("reading the join request: %v", err)))
		return
	}
	ip, err := validateJoinRequest(&req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.claimNodeName(ctx, req.NodeName, req.Password); err != nil {
		s.writeError(w, r, err)
		return
	}
	user := pki.Request{CommonName: "system:node:" + req.NodeName, Organization: []string{"system:nodes"}}
	clientCert, err := s.cfg.CA.SignCSR([]byte(req.ClientCSR), user)
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("clientCSR: %v", err)))
		return
	}
	serving := user
	serving.DNSNames, serving.IPs, serving.Server = []string{req.NodeName}, []net.IP{ip}, true
	servingCert, err := s.cfg.CA.SignCSR([]byte(req.ServingCSR), serving)
	if err != nil {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("servingCSR: %v", err)))
		return
	}
	s.log.Info("node certificates issued", "node", req.NodeName, "ip", req.NodeIP, "token", tokenID, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, joinapi.NodeCertsResponse{
		CACert: string(s.cfg.CA.CertPEM), ClientCert: string(clientCert), ServingCert: string(servingCert),
		ClusterCIDR: s.cfg.ClusterCIDR,
	})
}

// authenticateBootstrapToken checks the request's bearer bootstrap token
// against its Secret and returns the token's id. Every failure is 401;
// only a caller holding the right secret learns that its token expired.
func (s *Server) authenticateBootstrapToken(ctx context.Context, r *http.Request) (string, error) {
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return "", apierrors.NewUnauthorized("a join token is required (Authorization: Bearer <id>.<secret>)")
	}
	id, secret, err := pki.ParseBootstrapToken(strings.TrimSpace(bearer))
	if err != nil {
		return "", apierrors.NewUnauthorized(pki.ErrTokenInvalid.Error())
	}
	res, ok := s.cfg.Registry.Lookup(secretsGVR)
	if !ok {
		return "", apierrors.NewInternalError(errors.New("secrets are not served"))
	}
	obj, _, err := s.getObject(ctx, res, metav1.NamespaceSystem, pki.BootstrapSecretName(id))
	if apierrors.IsNotFound(err) {
		return "", apierrors.NewUnauthorized(pki.ErrTokenInvalid.Error())
	}
	if err != nil {
		return "", err
	}
	secretObj, _ := obj.(*corev1.Secret)
	if err := pki.CheckBootstrapSecret(secretObj, id, secret, time.Now()); err != nil {
		if !errors.Is(err, pki.ErrTokenExpired) {
			err = pki.ErrTokenInvalid
		}
		return "", apierrors.NewUnauthorized(err.Error())
	}
	return id, nil
}

// validateJoinRequest checks the request's names and returns the node IP.
func validateJoinRequest(req *joinapi.NodeCertsRequest) (net.IP, error) {
	if msgs := validation.NameIsDNSSubdomain(req.NodeName, false); len(msgs) > 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node name %q: %s", req.NodeName, strings.Join(msgs, "; ")))
	}
	if len(req.NodeName)+len(nodePasswordSuffix) > 253 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node name %q: longer than %d characters", req.NodeName, 253-len(nodePasswordSuffix)))
	}
	ip := net.ParseIP(req.NodeIP)
	if ip == nil || ip.IsUnspecified() {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("node IP %q is not an IP address", req.NodeIP))
	}
	if len(req.Password) < 16 {
		return nil, apierrors.NewBadRequest("the node password is missing or shorter than 16 characters")
	}
	return ip, nil
}

// claimNodeName stores the password's hash for a new node name, or checks
// it against the stored one.
func (s *Server) claimNodeName(ctx context.Context, name, password string) error {
	res, ok := s.cfg.Registry.Lookup(secretsGVR)
	if !ok {
		return apierrors.NewInternalError(errors.New("secrets are not served"))
	}
	secretName := name + nodePasswordSuffix
	for range 2 { // a lost race to create is checked against the winner
		obj, _, err := s.getObject(ctx, res, metav1.NamespaceSystem, secretName)
		if err == nil {
			stored, _ := obj.(*corev1.Secret)
			if stored == nil || !verifyNodePassword(string(stored.Data[nodePasswordHashKey]), password) {
				return nodeNameTaken(name)
			}
			return nil
		}
		if !apierrors.IsNotFound(err) {
			return err
		}
		// A Node registered without a join (the server's own, or one
		// whose password was deleted) is not free for the taking: whoever
		// claimed it would get its identity.
		if exists, err := s.nodeExists(ctx, name); err != nil || exists {
			if err != nil {
				return err
			}
			return nodeNameTaken(name)
		}
		hash, err := hashNodePassword(password)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: metav1.NamespaceSystem},
			Type:       secretTypeNodePassword,
			Data:       map[string][]byte{nodePasswordHashKey: []byte(hash)},
		}
		_, err = s.createObject(ctx, res, metav1.NamespaceSystem, secret, writeOptions{manager: joinManager})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nodeNameTaken(name)
}

// nodeExists says whether a Node of that name is stored.
func (s *Server) nodeExists(ctx context.Context, name string) (bool, error) {
	res, ok := s.cfg.Registry.Lookup(nodesGVR)
	if !ok {
		return false, nil
	}
	_, _, err := s.getObject(ctx, res, "", name)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func nodeNameTaken(name string) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, name,
		fmt.Errorf("node name %s is already taken by another machine", name))
}
