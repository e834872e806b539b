package pki

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

const testHash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseToken(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Token
		wantErr bool
	}{
		{name: "good", in: "K10" + testHash + "::abcdef.0123456789abcdef",
			want: Token{CAHash: testHash, ID: "abcdef", Secret: "0123456789abcdef"}},
		{name: "trailing newline", in: "K10" + testHash + "::abcdef.0123456789abcdef\n",
			want: Token{CAHash: testHash, ID: "abcdef", Secret: "0123456789abcdef"}},
		{name: "empty", in: "", wantErr: true},
		{name: "bare bootstrap token", in: "abcdef.0123456789abcdef", wantErr: true},
		{name: "no prefix", in: testHash + "::abcdef.0123456789abcdef", wantErr: true},
		{name: "short hash", in: "K10abc::abcdef.0123456789abcdef", wantErr: true},
		{name: "upper-case hash", in: "K10" + strings.ToUpper(testHash) + "::abcdef.0123456789abcdef", wantErr: true},
		{name: "k3s user:password form", in: "K10" + testHash + "::server:secret", wantErr: true},
		{name: "short id", in: "K10" + testHash + "::abcde.0123456789abcdef", wantErr: true},
		{name: "upper-case secret", in: "K10" + testHash + "::abcdef.0123456789ABCDEF", wantErr: true},
		{name: "long secret", in: "K10" + testHash + "::abcdef.0123456789abcdef0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseToken(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformedToken) {
					t.Fatalf("ParseToken(%q) = %+v, %v; want ErrMalformedToken", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseToken(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.String() != strings.TrimSpace(tt.in) {
				t.Errorf("String() = %q, want %q", got.String(), strings.TrimSpace(tt.in))
			}
		})
	}
}

func TestNewTokenRoundTrips(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 50 {
		tok, err := NewToken(ca.CertPEM)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseToken(tok.String())
		if err != nil || back != tok {
			t.Fatalf("ParseToken(%q) = %+v, %v", tok, back, err)
		}
		if !tok.MatchesCA(ca.CertPEM) {
			t.Fatal("token does not match its CA")
		}
		if seen[tok.Bootstrap()] {
			t.Fatalf("token %s made twice", tok.Bootstrap())
		}
		seen[tok.Bootstrap()] = true
	}
	other, _ := LoadOrCreateCA(t.TempDir())
	tok, _ := NewToken(ca.CertPEM)
	if tok.MatchesCA(other.CertPEM) {
		t.Fatal("token matches another CA")
	}
}

func TestCheckBootstrapSecret(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := Token{CAHash: testHash, ID: "abcdef", Secret: "0123456789abcdef"}
	mutate := func(f func(*corev1.Secret)) *corev1.Secret {
		s := tok.BootstrapSecret(0, "test", now)
		f(s)
		return s
	}
	tests := []struct {
		name    string
		secret  *corev1.Secret
		secret2 string
		want    error
	}{
		{name: "no expiry", secret: tok.BootstrapSecret(0, "", now), want: nil},
		{name: "not yet expired", secret: tok.BootstrapSecret(time.Hour, "", now.Add(-30*time.Minute)), want: nil},
		{name: "expired", secret: tok.BootstrapSecret(time.Hour, "", now.Add(-2*time.Hour)), want: ErrTokenExpired},
		{name: "wrong secret", secret: tok.BootstrapSecret(0, "", now), secret2: "aaaaaaaaaaaaaaaa", want: ErrTokenInvalid},
		{name: "wrong type", secret: mutate(func(s *corev1.Secret) { s.Type = corev1.SecretTypeOpaque }), want: ErrTokenInvalid},
		{name: "not for authentication", secret: mutate(func(s *corev1.Secret) { delete(s.Data, bootstrapTokenUsageAuthKey) }), want: ErrTokenInvalid},
		{name: "bad expiration", secret: mutate(func(s *corev1.Secret) { s.Data[bootstrapTokenExpirationKey] = []byte("tomorrow") }), want: ErrTokenInvalid},
		{name: "nil", secret: nil, want: ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tok.Secret
			if tt.secret2 != "" {
				secret = tt.secret2
			}
			err := CheckBootstrapSecret(tt.secret, tok.ID, secret, now)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("CheckBootstrapSecret = %v, want %v", err, tt.want)
			}
		})
	}
	s := tok.BootstrapSecret(24*time.Hour, "d", now)
	if s.Name != "bootstrap-token-abcdef" || s.Namespace != "kube-system" || string(s.Data["expiration"]) != "2030-01-02T00:00:00Z" ||
		string(s.Data["description"]) != "d" || string(s.Data["token-id"]) != "abcdef" {
		t.Errorf("BootstrapSecret = %+v", s)
	}
}

func TestEnsureDefaultToken(t *testing.T) {
	ctx := context.Background()
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	secrets := client.CoreV1().Secrets("kube-system")
	path := filepath.Join(t.TempDir(), "token")
	first, err := EnsureDefaultToken(ctx, secrets, path, ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v, mode %v", err, st.Mode())
	}
	s, err := secrets.Get(ctx, BootstrapSecretName(first.ID), metav1.GetOptions{})
	if err != nil || CheckBootstrapSecret(s, first.ID, first.Secret, time.Now().Add(100*365*24*time.Hour)) != nil {
		t.Fatalf("Secret %v: %v (want one that never expires)", s, err)
	}
	// A restart keeps the token.
	again, err := EnsureDefaultToken(ctx, secrets, path, ca.CertPEM)
	if err != nil || again != first {
		t.Fatalf("restart: %v, %v; want %v", again, err, first)
	}
	// A deleted Secret is made again, for the same token.
	if err := secrets.Delete(ctx, BootstrapSecretName(first.ID), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if again, err = EnsureDefaultToken(ctx, secrets, path, ca.CertPEM); err != nil || again != first {
		t.Fatalf("after delete: %v, %v; want %v", again, err, first)
	}
	if _, err := secrets.Get(ctx, BootstrapSecretName(first.ID), metav1.GetOptions{}); err != nil {
		t.Fatalf("Secret not made again: %v", err)
	}
	// A new CA keeps the bootstrap token and changes the hash.
	ca2, _ := LoadOrCreateCA(t.TempDir())
	moved, err := EnsureDefaultToken(ctx, secrets, path, ca2.CertPEM)
	if err != nil || moved.Bootstrap() != first.Bootstrap() || !moved.MatchesCA(ca2.CertPEM) {
		t.Fatalf("new CA: %v, %v", moved, err)
	}
	if onDisk, err := ReadTokenFile(path); err != nil || onDisk != moved {
		t.Fatalf("file says %v, %v; want %v", onDisk, err, moved)
	}
}

func TestSignCSR(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The request asks for more than it gets: the CA decides.
	csrPEM, keyPEM, err := NewCSR(Request{CommonName: "system:admin", Organization: []string{"system:masters"}})
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignCSR(csrPEM, Request{CommonName: "system:node:n1", Organization: []string{"system:nodes"},
		DNSNames: []string{"n1"}, IPs: []net.IP{net.IPv4(10, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ParseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:n1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("subject %v", cert.Subject)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "n1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("verify: %v", err)
	}
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		t.Error("certificate is not for the request's key")
	}
	if NeedsRenewal(certPEM, time.Now()) || !NeedsRenewal(certPEM, cert.NotAfter.Add(-time.Hour)) || !NeedsRenewal([]byte("junk"), time.Now()) {
		t.Error("NeedsRenewal")
	}
	for _, bad := range [][]byte{nil, []byte("junk"), certPEM} {
		if _, err := ca.SignCSR(bad, Request{CommonName: "x"}); err == nil {
			t.Errorf("SignCSR(%.20q) signed", bad)
		}
	}
}
