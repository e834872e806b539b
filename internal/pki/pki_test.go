package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestCAIsMadeOnceAndReloaded(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Fatal("reloaded CA differs")
	}
	for _, f := range []string{"ca.crt", "ca.key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v, want 0600", f, err, st.Mode())
		}
	}
	// Half a CA (a lost key) is an error, not a silent new CA.
	os.Remove(filepath.Join(dir, "ca.key"))
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Fatal("CA without its key loaded")
	}
}

func TestIssueVerifies(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		req   Request
		usage x509.ExtKeyUsage
		host  string
	}{
		{"client", Request{CommonName: "alice", Organization: []string{"dev", "ops"}}, x509.ExtKeyUsageClientAuth, ""},
		{"server by name", Request{CommonName: "api", DNSNames: []string{"localhost"}, Server: true}, x509.ExtKeyUsageServerAuth, "localhost"},
		{"server by IP", Request{CommonName: "api", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}, x509.ExtKeyUsageServerAuth, "127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.Issue(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
				t.Fatalf("key pair: %v", err)
			}
			cert, err := ParseCertPEM(certPEM)
			if err != nil {
				t.Fatal(err)
			}
			_, err = cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: tt.host, KeyUsages: []x509.ExtKeyUsage{tt.usage}})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if cert.Subject.CommonName != tt.req.CommonName || len(cert.Subject.Organization) != len(tt.req.Organization) {
				t.Errorf("subject %v", cert.Subject)
			}
		})
	}
}

func TestEnsureServingReissuesOnNewNames(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	ips := []net.IP{net.ParseIP("127.0.0.1")}
	first, _, err := ca.EnsureServing(dir, "serving", []string{"localhost"}, ips)
	if err != nil {
		t.Fatal(err)
	}
	same, _, err := ca.EnsureServing(dir, "serving", []string{"localhost"}, ips)
	if err != nil || string(same) != string(first) {
		t.Fatalf("unchanged names re-issued the certificate (%v)", err)
	}
	moved, _, err := ca.EnsureServing(dir, "serving", []string{"localhost"}, append(ips, net.ParseIP("192.0.2.7")))
	if err != nil || string(moved) == string(first) {
		t.Fatalf("a new address did not re-issue the certificate (%v)", err)
	}
	cert, _ := ParseCertPEM(moved)
	if len(cert.IPAddresses) != 2 {
		t.Errorf("IPs = %v", cert.IPAddresses)
	}
}

func TestKubeconfigLoads(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue(Request{CommonName: "admin", Organization: []string{"system:masters"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Kubeconfig{Server: "https://127.0.0.1:6443", Name: "mini", CAPEM: ca.CertPEM, CertPEM: certPEM, KeyPEM: keyPEM}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:6443" || string(cfg.CAData) != string(ca.CertPEM) || len(cfg.CertData) == 0 {
		t.Fatalf("rest config %+v", cfg)
	}
}
