package apiserver

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/join/joinapi"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
)

// joinFixture is a bootstrapped API with one valid and one expired token.
type joinFixture struct {
	s       *Server
	good    pki.Token
	expired pki.Token
}

func newJoinFixture(t *testing.T) *joinFixture {
	t.Helper()
	s, _ := newServiceTestServer(t, Config{ClusterCIDR: "10.42.0.0/16"})
	f := &joinFixture{s: s}
	ctx := asLoopback(context.Background())
	res, _ := s.cfg.Registry.Lookup(secretsGVR)
	for _, tt := range []struct {
		tok *pki.Token
		ttl time.Duration
		at  time.Time
	}{{&f.good, time.Hour, time.Now()}, {&f.expired, time.Hour, time.Now().Add(-2 * time.Hour)}} {
		var err error
		if *tt.tok, err = pki.NewToken(s.cfg.CA.CertPEM); err != nil {
			t.Fatal(err)
		}
		if _, err := s.createObject(ctx, res, "kube-system", tt.tok.BootstrapSecret(tt.ttl, "test", tt.at), writeOptions{manager: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// joinRequest is a well-formed request for node, with fresh CSRs.
func joinRequest(t *testing.T, node, password string) joinapi.NodeCertsRequest {
	t.Helper()
	clientCSR, _, err := pki.NewCSR(pki.Request{CommonName: "anything"})
	if err != nil {
		t.Fatal(err)
	}
	servingCSR, _, err := pki.NewCSR(pki.Request{CommonName: "anything"})
	if err != nil {
		t.Fatal(err)
	}
	return joinapi.NodeCertsRequest{NodeName: node, NodeIP: "10.0.0.7", Password: password,
		ClientCSR: string(clientCSR), ServingCSR: string(servingCSR)}
}

// post sends a node-certs request with bearer and returns the status
// code, the Status message or the answer.
func (f *joinFixture) post(t *testing.T, bearer string, body any) (int, string, joinapi.NodeCertsResponse) {
	t.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest(http.MethodPost, joinapi.NodeCertsPath, bytes.NewReader(b))
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, r)
	var resp joinapi.NodeCertsResponse
	if w.Code != http.StatusOK {
		var st metav1.Status
		json.Unmarshal(w.Body.Bytes(), &st)
		return w.Code, st.Message, resp
	}
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatalf("answer %q: %v", w.Body.String(), err)
	}
	return w.Code, "", resp
}

func TestJoinCACerts(t *testing.T) {
	f := newJoinFixture(t)
	w := httptest.NewRecorder()
	f.s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, joinapi.CACertsPath, nil))
	if w.Code != http.StatusOK || !bytes.Equal(w.Body.Bytes(), f.s.cfg.CA.CertPEM) {
		t.Fatalf("cacerts: %d %q", w.Code, w.Body.String())
	}
	if !f.good.MatchesCA(w.Body.Bytes()) {
		t.Fatal("the served CA does not match the token made for it")
	}
}

func TestJoinNodeCerts(t *testing.T) {
	f := newJoinFixture(t)
	const pw = "0123456789abcdef0123456789abcdef"
	// The server's own node registers without joining: its name is not
	// free for a token holder to claim.
	nodes, ok := f.s.cfg.Registry.Lookup(nodesGVR)
	if !ok {
		t.Fatal("no nodes")
	}
	if _, err := f.s.createObject(asLoopback(context.Background()), nodes, "", &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "server-node"}},
		writeOptions{manager: "test"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		bearer   string
		body     any
		wantCode int
		wantMsg  string
	}{
		{name: "no token", body: joinRequest(t, "n1", pw), wantCode: 401, wantMsg: "a join token is required"},
		{name: "malformed token", bearer: "nonsense", body: joinRequest(t, "n1", pw), wantCode: 401, wantMsg: "the join token is not valid"},
		{name: "unknown token", bearer: "zzzzzz.0123456789abcdef", body: joinRequest(t, "n1", pw), wantCode: 401, wantMsg: "the join token is not valid"},
		{name: "wrong secret", bearer: f.good.ID + ".0000000000000000", body: joinRequest(t, "n1", pw), wantCode: 401, wantMsg: "the join token is not valid"},
		{name: "expired token", bearer: f.expired.Bootstrap(), body: joinRequest(t, "n1", pw), wantCode: 401, wantMsg: "the join token has expired"},
		{name: "bad node name", bearer: f.good.Bootstrap(), body: joinRequest(t, "Not_A_Name", pw), wantCode: 400, wantMsg: "node name"},
		{name: "short password", bearer: f.good.Bootstrap(), body: joinRequest(t, "n1", "short"), wantCode: 400, wantMsg: "password"},
		{name: "bad CSR", bearer: f.good.Bootstrap(), wantCode: 400, wantMsg: "clientCSR",
			body: joinapi.NodeCertsRequest{NodeName: "n9", NodeIP: "10.0.0.9", Password: pw, ClientCSR: "junk", ServingCSR: "junk"}},
		{name: "good join", bearer: f.good.Bootstrap(), body: joinRequest(t, "n1", pw), wantCode: 200},
		{name: "same machine again", bearer: f.good.Bootstrap(), body: joinRequest(t, "n1", pw), wantCode: 200},
		{name: "another machine, same name", bearer: f.good.Bootstrap(), body: joinRequest(t, "n1", "another-password-0123456789"),
			wantCode: 403, wantMsg: "node name n1 is already taken by another machine"},
		{name: "another machine, another name", bearer: f.good.Bootstrap(), body: joinRequest(t, "n2", "another-password-0123456789"), wantCode: 200},
		{name: "a Node registered without a join", bearer: f.good.Bootstrap(), body: joinRequest(t, "server-node", pw),
			wantCode: 403, wantMsg: "node name server-node is already taken by another machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, resp := f.post(t, tt.bearer, tt.body)
			if code != tt.wantCode || !strings.Contains(msg, tt.wantMsg) {
				t.Fatalf("got %d %q, want %d %q", code, msg, tt.wantCode, tt.wantMsg)
			}
			if code != 200 {
				return
			}
			req := tt.body.(joinapi.NodeCertsRequest)
			checkNodeCerts(t, f.s.cfg.CA, req, resp)
		})
	}
	// The password is kept hashed.
	obj, _, err := f.s.getObject(asLoopback(context.Background()), mustLookup(t, f.s), "kube-system", "n1.node-password.mini")
	if err != nil {
		t.Fatal(err)
	}
	if h := string(obj.(*corev1.Secret).Data["hash"]); strings.Contains(h, pw) || !verifyNodePassword(h, pw) {
		t.Errorf("stored hash %q", h)
	}
}

func mustLookup(t *testing.T, s *Server) *registry.Resource {
	t.Helper()
	res, ok := s.cfg.Registry.Lookup(secretsGVR)
	if !ok {
		t.Fatal("no secrets")
	}
	return res
}

func checkNodeCerts(t *testing.T, ca *pki.CA, req joinapi.NodeCertsRequest, resp joinapi.NodeCertsResponse) {
	t.Helper()
	if resp.CACert != string(ca.CertPEM) || resp.ClusterCIDR != "10.42.0.0/16" {
		t.Errorf("CA or cluster CIDR: %q %q", resp.CACert, resp.ClusterCIDR)
	}
	client, err := pki.ParseCertPEM([]byte(resp.ClientCert))
	if err != nil {
		t.Fatal(err)
	}
	if client.Subject.CommonName != "system:node:"+req.NodeName || strings.Join(client.Subject.Organization, ",") != "system:nodes" {
		t.Errorf("client subject %v", client.Subject)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client cert: %v", err)
	}
	serving, err := pki.ParseCertPEM([]byte(resp.ServingCert))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{req.NodeName, req.NodeIP} {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("serving cert for %s: %v", name, err)
		}
	}
	if !serving.IPAddresses[0].Equal(net.ParseIP(req.NodeIP)) {
		t.Errorf("serving IPs %v", serving.IPAddresses)
	}
}

func TestNodePasswordHash(t *testing.T) {
	h, err := hashNodePassword("secret-secret-secret")
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := hashNodePassword("secret-secret-secret")
	if h == h2 {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "secret-secret-secret", true},
		{h, "secret-secret-secreT", false},
		{"", "", false},
		{"$pbkdf2-sha256$x$a$b", "x", false},
		{"$md5$1$a$b", "x", false},
	} {
		if got := verifyNodePassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("verifyNodePassword(%q, %q) = %v", tt.hash, tt.pw, got)
		}
	}
}
