package join

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/join/joinapi"
	"mini.dev/mini/internal/pki"
)

// Config says whom to join and as what.
type Config struct {
	// Server is the API's URL, https://SERVER:6443 (the port defaults to
	// 6443).
	Server string
	// Token is the server's join token (`mini token`).
	Token string
	// NodeName and NodeIP are what the certificates are for.
	NodeName string
	NodeIP   string
	// Dir keeps the identity (<data-dir>/agent/identity).
	Dir string
	// Timeout bounds each request to the server (default 30 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Identity is who the node is to the cluster.
type Identity struct {
	Server                        string // the API's URL
	CAPEM                         []byte
	ClientCertPEM, ClientKeyPEM   []byte
	ServingCertPEM, ServingKeyPEM []byte
	// ClusterCIDR is the cluster's pod network, as the server said.
	ClusterCIDR string
}

// Files of an identity in Config.Dir.
const (
	caFile          = "ca.crt"
	clientCertFile  = "client.crt"
	clientKeyFile   = "client.key"
	servingCertFile = "serving.crt"
	servingKeyFile  = "serving.key"
	passwordFile    = "password"
	serverFile      = "server"
	clusterCIDRFile = "cluster-cidr"
)

// Join returns the node's identity. The one kept in cfg.Dir is used while
// it is good for this server, token, node name and IP and not near
// expiry, without asking the server (which may be down: the node still
// starts, and catches up when it is back); otherwise the server issues new
// certificates, which are kept for next time.
func Join(ctx context.Context, cfg Config) (*Identity, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Dir == "" || cfg.NodeName == "" || net.ParseIP(cfg.NodeIP) == nil {
		return nil, errors.New("join: Dir, NodeName and NodeIP are required")
	}
	server, err := ServerURL(cfg.Server)
	if err != nil {
		return nil, err
	}
	tok, err := pki.ParseToken(cfg.Token)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "join")
	if id, why := loadIdentity(cfg.Dir, server, tok, cfg.NodeName, cfg.NodeIP); id != nil {
		log.Info("identity kept", "dir", cfg.Dir, "node", cfg.NodeName)
		return id, nil
	} else if why != "" {
		log.Info("joining again", "why", why)
	}
	password, err := loadOrMakePassword(cfg.Dir)
	if err != nil {
		return nil, err
	}
	c := &client{server: server, timeout: cfg.Timeout}
	caPEM, err := c.fetchCA(ctx)
	if err != nil {
		return nil, err
	}
	if !tok.MatchesCA(caPEM) {
		return nil, &joinError{ErrCAMismatch, fmt.Sprintf("%s (server %s, CA sha256 %s, token wants %s)",
			ErrCAMismatch, server, pki.CAHash(caPEM), tok.CAHash)}
	}
	id, err := c.requestCerts(ctx, caPEM, tok, cfg.NodeName, cfg.NodeIP, password)
	if err != nil {
		return nil, err
	}
	if err := id.save(cfg.Dir); err != nil {
		return nil, err
	}
	log.Info("joined", "server", server, "node", cfg.NodeName, "ip", cfg.NodeIP)
	return id, nil
}

// ServerURL checks and normalises a --join URL: https, a host, and port
// 6443 when none is given.
func ServerURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimRight(strings.TrimSpace(s), "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
		return "", fmt.Errorf("server URL %q: want https://SERVER:6443", s)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), "6443")
	}
	return "https://" + u.Host, nil
}

// RESTConfig is how the node's components reach the API as the node.
func (id *Identity) RESTConfig(userAgent string) *rest.Config {
	return &rest.Config{
		Host:            id.Server,
		TLSClientConfig: rest.TLSClientConfig{CAData: id.CAPEM, CertData: id.ClientCertPEM, KeyData: id.ClientKeyPEM},
		UserAgent:       userAgent,
		// kubelet's defaults (kubeAPIQPS 50, kubeAPIBurst 100).
		QPS:   50,
		Burst: 100,
	}
}

// CAPool is the cluster CA as a pool: it verifies the API server's
// client certificate at the node's endpoint.
func (id *Identity) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(id.CAPEM)
	return p
}

// client makes the two requests of a join.
type client struct {
	server  string
	timeout time.Duration
}

func (c *client) httpClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout: c.timeout,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSClientConfig:     tlsCfg,
			TLSHandshakeTimeout: 10 * time.Second,
			// Each of the two requests is the transport's only one: no
			// idle connection outlives it.
			DisableKeepAlives: true,
		},
	}
}

// fetchCA gets the server's CA. This is the one request that does not
// verify the server: its answer is checked against the token instead.
func (c *client) fetchCA(ctx context.Context) ([]byte, error) {
	hc := c.httpClient(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // checked against the token's hash
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+joinapi.CACertsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, c.unreachable(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the server at %s answered %s to %s: is it a mini server?", c.server, resp.Status, joinapi.CACertsPath)
	}
	return body, nil
}

// requestCerts asks for the node's certificates with fresh keys.
func (c *client) requestCerts(ctx context.Context, caPEM []byte, tok pki.Token, node, ip, password string) (*Identity, error) {
	clientCSR, clientKey, err := pki.NewCSR(pki.Request{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}})
	if err != nil {
		return nil, err
	}
	servingCSR, servingKey, err := pki.NewCSR(pki.Request{CommonName: "system:node:" + node, DNSNames: []string{node}, IPs: []net.IP{net.ParseIP(ip)}})
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(joinapi.NodeCertsRequest{NodeName: node, NodeIP: ip, Password: password,
		ClientCSR: string(clientCSR), ServingCSR: string(servingCSR)})
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the server at %s sent no PEM CA certificate", c.server)
	}
	hc := c.httpClient(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.server+joinapi.NodeCertsPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Bootstrap())
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, c.unreachable(err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return nil, &joinError{ErrUnauthorized, fmt.Sprintf("%s: %s", ErrUnauthorized, statusMessage(b, resp.Status))}
	case http.StatusForbidden:
		return nil, &joinError{ErrNodeNameTaken, fmt.Sprintf("node name %s is already taken by another machine", node)}
	default:
		return nil, fmt.Errorf("the server at %s refused the join: %s", c.server, statusMessage(b, resp.Status))
	}
	var out joinapi.NodeCertsResponse
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("the server at %s answered the join with something unreadable: %w", c.server, err)
	}
	id := &Identity{Server: c.server, CAPEM: caPEM, ClientCertPEM: []byte(out.ClientCert), ClientKeyPEM: clientKey,
		ServingCertPEM: []byte(out.ServingCert), ServingKeyPEM: servingKey, ClusterCIDR: out.ClusterCIDR}
	if why := id.check(node, ip, time.Now()); why != "" {
		return nil, fmt.Errorf("the server at %s issued unusable certificates: %s", c.server, why)
	}
	return id, nil
}

// unreachable words a transport error as one line naming the server.
func (c *client) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &joinError{ErrUnreachable, fmt.Sprintf("%s at %s: %v", ErrUnreachable, c.server, err)}
}

// statusMessage is the message of a Status answer, else the HTTP status.
func statusMessage(body []byte, status string) string {
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil && st.Message != "" {
		return st.Message
	}
	return status
}

// check says what is wrong with id for node at ip, or "".
func (id *Identity) check(node, ip string, now time.Time) string {
	pool := id.CAPool()
	client, err := pki.ParseCertPEM(id.ClientCertPEM)
	if err != nil {
		return "client certificate: " + err.Error()
	}
	if client.Subject.CommonName != "system:node:"+node {
		return fmt.Sprintf("client certificate is for %q, not system:node:%s", client.Subject.CommonName, node)
	}
	if _, err := client.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "client certificate: " + err.Error()
	}
	serving, err := pki.ParseCertPEM(id.ServingCertPEM)
	if err != nil {
		return "serving certificate: " + err.Error()
	}
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, DNSName: node}); err != nil {
		return "serving certificate: " + err.Error()
	}
	if !slices.ContainsFunc(serving.IPAddresses, net.ParseIP(ip).Equal) {
		return fmt.Sprintf("serving certificate lacks the node IP %s", ip)
	}
	if pki.NeedsRenewal(id.ClientCertPEM, now) || pki.NeedsRenewal(id.ServingCertPEM, now) {
		return "certificates near expiry"
	}
	if _, err := tls.X509KeyPair(id.ClientCertPEM, id.ClientKeyPEM); err != nil {
		return "client key: " + err.Error()
	}
	if _, err := tls.X509KeyPair(id.ServingCertPEM, id.ServingKeyPEM); err != nil {
		return "serving key: " + err.Error()
	}
	return ""
}

// loadIdentity reads the identity in dir if it is good for this join;
// otherwise it returns why not ("" when there is none at all).
func loadIdentity(dir, server string, tok pki.Token, node, ip string) (*Identity, string) {
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return b
	}
	id := &Identity{
		Server: strings.TrimSpace(string(read(serverFile))), CAPEM: read(caFile),
		ClientCertPEM: read(clientCertFile), ClientKeyPEM: read(clientKeyFile),
		ServingCertPEM: read(servingCertFile), ServingKeyPEM: read(servingKeyFile),
		ClusterCIDR: strings.TrimSpace(string(read(clusterCIDRFile))),
	}
	switch {
	case id.Server == "" && len(id.CAPEM) == 0:
		return nil, ""
	case id.Server != server:
		return nil, fmt.Sprintf("the identity is for server %s", id.Server)
	case !tok.MatchesCA(id.CAPEM):
		return nil, "the server's CA changed"
	}
	if why := id.check(node, ip, time.Now()); why != "" {
		return nil, why
	}
	return id, ""
}

// save writes the identity, keys before the certificates naming them and
// the server last, so that a half-written identity is never taken for a
// whole one.
func (id *Identity) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{caFile, id.CAPEM}, {clientKeyFile, id.ClientKeyPEM}, {clientCertFile, id.ClientCertPEM},
		{servingKeyFile, id.ServingKeyPEM}, {servingCertFile, id.ServingCertPEM},
		{clusterCIDRFile, []byte(id.ClusterCIDR + "\n")}, {serverFile, []byte(id.Server + "\n")},
	} {
		if err := pki.WriteFileAtomic(filepath.Join(dir, f.name), f.data, 0o600); err != nil {
			return fmt.Errorf("keeping the node's identity: %w", err)
		}
	}
	return nil
}

// loadOrMakePassword returns the machine's node password, making it on
// first use: 32 random bytes, hex.
func loadOrMakePassword(dir string) (string, error) {
	path := filepath.Join(dir, passwordFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := pki.WriteFileAtomic(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping the node password: %w", err)
	}
	return pw, nil
}

// LocalIPFor is this machine's address towards the server (the source
// address the kernel would pick), or "" when there is no route: a node
// should advertise the address its server reaches it by.
func LocalIPFor(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return ""
	}
	// UDP "connect" picks a route and sends nothing.
	c, err := net.Dial("udp", u.Host)
	if err != nil {
		return ""
	}
	defer c.Close()
	addr, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || addr.IP.IsLoopback() {
		return ""
	}
	return addr.IP.String()
}
