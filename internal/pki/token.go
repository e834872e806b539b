package pki

// Join tokens, as k3s writes them: K10<sha256 of the CA's PEM>::<id>.<secret>.
// The hash lets a joining machine trust the server's CA before it trusts
// anything the server says; id.secret is a Kubernetes bootstrap token,
// stored as upstream stores one (a Secret kube-system/bootstrap-token-<id>
// of type bootstrap.kubernetes.io/token), so `kubectl get secrets -n
// kube-system` shows and deletes tokens as on any cluster.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Bootstrap token Secrets, as upstream's cluster-bootstrap names them.
const (
	BootstrapTokenSecretPrefix   = "bootstrap-token-"
	SecretTypeBootstrapToken     = corev1.SecretType("bootstrap.kubernetes.io/token")
	bootstrapTokenIDKey          = "token-id"
	bootstrapTokenSecretKey      = "token-secret"
	bootstrapTokenExpirationKey  = "expiration"
	bootstrapTokenDescriptionKey = "description"
	bootstrapTokenUsageAuthKey   = "usage-bootstrap-authentication"
	tokenPrefix                  = "K10"
)

// Errors of join tokens.
var (
	// ErrMalformedToken is returned by ParseToken for anything not of the
	// form K10<64 hex digits>::<6 chars>.<16 chars>.
	ErrMalformedToken = errors.New("malformed join token: want K10<ca-sha256>::<id>.<secret>")
	// ErrTokenInvalid is returned by CheckBootstrapSecret when the Secret
	// is no usable bootstrap token or its secret differs.
	ErrTokenInvalid = errors.New("the join token is not valid")
	// ErrTokenExpired is returned by CheckBootstrapSecret for a token past
	// its expiration.
	ErrTokenExpired = errors.New("the join token has expired")
)

var (
	tokenIDRe     = regexp.MustCompile(`^[a-z0-9]{6}$`)
	tokenSecretRe = regexp.MustCompile(`^[a-z0-9]{16}$`)
	caHashRe      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Token is a join token.
type Token struct {
	CAHash string // hex SHA-256 of the CA certificate's PEM
	ID     string // [a-z0-9]{6}, public: it names the Secret
	Secret string // [a-z0-9]{16}
}

// CAHash is the hash a token carries for a CA certificate: hex SHA-256
// of its PEM, exactly as the server serves it.
func CAHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// NewToken makes a token with a fresh random bootstrap token for the CA.
func NewToken(caPEM []byte) (Token, error) {
	id, err := randomTokenString(6)
	if err != nil {
		return Token{}, err
	}
	secret, err := randomTokenString(16)
	if err != nil {
		return Token{}, err
	}
	return Token{CAHash: CAHash(caPEM), ID: id, Secret: secret}, nil
}

// ParseToken parses K10<hash>::<id>.<secret>.
func ParseToken(s string) (Token, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), tokenPrefix)
	if !ok {
		return Token{}, ErrMalformedToken
	}
	hash, bootstrap, ok := strings.Cut(rest, "::")
	if !ok || !caHashRe.MatchString(hash) {
		return Token{}, ErrMalformedToken
	}
	id, secret, err := ParseBootstrapToken(bootstrap)
	if err != nil {
		return Token{}, err
	}
	return Token{CAHash: hash, ID: id, Secret: secret}, nil
}

// ParseBootstrapToken splits id.secret, as a bearer token carries it.
func ParseBootstrapToken(s string) (id, secret string, err error) {
	id, secret, ok := strings.Cut(s, ".")
	if !ok || !tokenIDRe.MatchString(id) || !tokenSecretRe.MatchString(secret) {
		return "", "", ErrMalformedToken
	}
	return id, secret, nil
}

// String is the token as users pass it around.
func (t Token) String() string { return tokenPrefix + t.CAHash + "::" + t.Bootstrap() }

// Bootstrap is the bootstrap token id.secret, the bearer credential.
func (t Token) Bootstrap() string { return t.ID + "." + t.Secret }

// MatchesCA says whether caPEM is the CA the token was made for.
func (t Token) MatchesCA(caPEM []byte) bool {
	return subtle.ConstantTimeCompare([]byte(CAHash(caPEM)), []byte(t.CAHash)) == 1
}

// BootstrapSecretName is the name of the Secret holding token id.
func BootstrapSecretName(id string) string { return BootstrapTokenSecretPrefix + id }

// BootstrapSecret is the Secret (in kube-system) that makes t valid for
// joining; a ttl of 0 never expires.
func (t Token) BootstrapSecret(ttl time.Duration, description string, now time.Time) *corev1.Secret {
	data := map[string][]byte{
		bootstrapTokenIDKey:        []byte(t.ID),
		bootstrapTokenSecretKey:    []byte(t.Secret),
		bootstrapTokenUsageAuthKey: []byte("true"),
	}
	if ttl > 0 {
		data[bootstrapTokenExpirationKey] = []byte(now.Add(ttl).UTC().Format(time.RFC3339))
	}
	if description != "" {
		data[bootstrapTokenDescriptionKey] = []byte(description)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: BootstrapSecretName(t.ID), Namespace: metav1.NamespaceSystem},
		Type:       SecretTypeBootstrapToken,
		Data:       data,
	}
}

// CheckBootstrapSecret checks that s makes the bootstrap token id.secret
// valid for authentication at now, as upstream's bootstrap token
// authenticator does: the type, the id, the secret (in constant time),
// the authentication usage and the expiration.
func CheckBootstrapSecret(s *corev1.Secret, id, secret string, now time.Time) error {
	if s == nil || s.Type != SecretTypeBootstrapToken || s.DeletionTimestamp != nil ||
		string(s.Data[bootstrapTokenIDKey]) != id ||
		subtle.ConstantTimeCompare(s.Data[bootstrapTokenSecretKey], []byte(secret)) != 1 ||
		string(s.Data[bootstrapTokenUsageAuthKey]) != "true" {
		return ErrTokenInvalid
	}
	if exp := s.Data[bootstrapTokenExpirationKey]; len(exp) > 0 {
		t, err := time.Parse(time.RFC3339, string(exp))
		if err != nil {
			return fmt.Errorf("%w: expiration %q: %w", ErrTokenInvalid, exp, err)
		}
		if !now.Before(t) {
			return ErrTokenExpired
		}
	}
	return nil
}

// randomTokenString is n characters of [a-z0-9], uniformly drawn.
func randomTokenString(n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("making a token: %w", err)
		}
		for _, b := range buf {
			// 252 = 7*36: rejecting above it keeps every character
			// equally likely.
			if b < 252 && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}
