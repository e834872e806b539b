package join

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/join/joinapi"
	"mini.dev/mini/internal/pki"
)

// fakeServer answers the join endpoint as the API server does, with a
// serving certificate from its CA.
type fakeServer struct {
	*httptest.Server
	ca    *pki.CA
	token pki.Token
	// answer, when set, replaces the node-certs answer with this status.
	answer    error
	certCalls atomic.Int32
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.NewToken(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ca: ca, token: tok}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+joinapi.CACertsPath, func(w http.ResponseWriter, r *http.Request) { w.Write(ca.CertPEM) })
	mux.HandleFunc("POST "+joinapi.NodeCertsPath, f.nodeCerts)
	f.Server = httptest.NewUnstartedServer(mux)
	certPEM, keyPEM, err := ca.Issue(pki.Request{CommonName: "api", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	f.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) nodeCerts(w http.ResponseWriter, r *http.Request) {
	f.certCalls.Add(1)
	fail := func(err error) {
		st := err.(apierrors.APIStatus).Status()
		w.WriteHeader(int(st.Code))
		json.NewEncoder(w).Encode(st)
	}
	if f.answer != nil {
		fail(f.answer)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token.Bootstrap() {
		fail(apierrors.NewUnauthorized("the join token is not valid"))
		return
	}
	var req joinapi.NodeCertsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(apierrors.NewBadRequest(err.Error()))
		return
	}
	user := pki.Request{CommonName: "system:node:" + req.NodeName, Organization: []string{"system:nodes"}}
	clientCert, err1 := f.ca.SignCSR([]byte(req.ClientCSR), user)
	user.DNSNames, user.IPs, user.Server = []string{req.NodeName}, []net.IP{net.ParseIP(req.NodeIP)}, true
	servingCert, err2 := f.ca.SignCSR([]byte(req.ServingCSR), user)
	if err := errors.Join(err1, err2); err != nil {
		fail(apierrors.NewBadRequest(err.Error()))
		return
	}
	json.NewEncoder(w).Encode(joinapi.NodeCertsResponse{CACert: string(f.ca.CertPEM), ClientCert: string(clientCert),
		ServingCert: string(servingCert), ClusterCIDR: "10.42.0.0/16"})
}

func TestJoin(t *testing.T) {
	f := newFakeServer(t)
	dir := filepath.Join(t.TempDir(), "identity")
	cfg := Config{Server: f.URL, Token: f.token.String(), NodeName: "n1", NodeIP: "10.0.0.5", Dir: dir}
	id, err := Join(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id.Server != f.URL || id.ClusterCIDR != "10.42.0.0/16" || string(id.CAPEM) != string(f.ca.CertPEM) {
		t.Errorf("identity %+v", id)
	}
	for _, name := range []string{caFile, clientCertFile, clientKeyFile, servingCertFile, servingKeyFile, passwordFile, serverFile} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v", name, err)
		}
	}
	password, _ := os.ReadFile(filepath.Join(dir, passwordFile))

	// A restart keeps the identity without asking the server.
	again, err := Join(context.Background(), cfg)
	if err != nil || string(again.ClientCertPEM) != string(id.ClientCertPEM) || f.certCalls.Load() != 1 {
		t.Fatalf("restart: %v, %d calls", err, f.certCalls.Load())
	}
	// A new node IP needs a new serving certificate; the password stays.
	cfg.NodeIP = "10.0.0.6"
	if _, err := Join(context.Background(), cfg); err != nil || f.certCalls.Load() != 2 {
		t.Fatalf("new IP: %v, %d calls", err, f.certCalls.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, passwordFile)); string(b) != string(password) {
		t.Error("the password changed")
	}
	// The identity works against the server.
	rc := again.RESTConfig("test")
	if rc.Host != f.URL || rc.TLSClientConfig.CertData == nil {
		t.Errorf("rest config %+v", rc)
	}
}

func TestJoinErrors(t *testing.T) {
	f := newFakeServer(t)
	other, _ := pki.LoadOrCreateCA(t.TempDir())
	otherTok, _ := pki.NewToken(other.CertPEM)
	wrongSecret := f.token
	wrongSecret.Secret = "0000000000000000"

	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		server  string
		token   string
		answer  error
		want    error
		wantMsg string
	}{
		{name: "malformed token", server: f.URL, token: "K10abc::nope", want: ErrMalformedToken, wantMsg: "malformed join token"},
		{name: "CA mismatch", server: f.URL, token: otherTok.String(), want: ErrCAMismatch, wantMsg: "the server's CA does not match the token"},
		{name: "unreachable", server: closed, token: f.token.String(), want: ErrUnreachable, wantMsg: "cannot reach the server at " + closed},
		{name: "wrong secret", server: f.URL, token: wrongSecret.String(), want: ErrUnauthorized,
			wantMsg: "the server refused the join token: the join token is not valid"},
		{name: "expired", server: f.URL, token: f.token.String(), answer: apierrors.NewUnauthorized("the join token has expired"),
			want: ErrUnauthorized, wantMsg: "the server refused the join token: the join token has expired"},
		{name: "name taken", server: f.URL, token: f.token.String(),
			answer: apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "n1", errors.New("taken")),
			want:   ErrNodeNameTaken, wantMsg: "node name n1 is already taken by another machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.answer = tt.answer
			dir := t.TempDir()
			_, err := Join(context.Background(), Config{Server: tt.server, Token: tt.token, NodeName: "n1", NodeIP: "10.0.0.5", Dir: dir})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Join = %v, want %v saying %q on one line", err, tt.want, tt.wantMsg)
			}
			if _, err := os.Stat(filepath.Join(dir, clientCertFile)); err == nil {
				t.Error("a failed join kept certificates")
			}
		})
	}
}

func TestServerURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://10.0.0.1:6443":  "https://10.0.0.1:6443",
		"https://10.0.0.1":       "https://10.0.0.1:6443",
		"https://server:7443/":   "https://server:7443",
		"https://[fd00::1]:6443": "https://[fd00::1]:6443",
		"http://10.0.0.1:6443":   "",
		"10.0.0.1:6443":          "",
		"https://10.0.0.1/api":   "",
		"":                       "",
	} {
		got, err := ServerURL(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ServerURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
