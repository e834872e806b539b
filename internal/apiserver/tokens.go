package apiserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"k8s.io/apimachinery/pkg/types"
)

// Service-account tokens are JWTs signed by the server, shaped as
// upstream's (iss, sub, aud, exp, iat, nbf, jti and the "kubernetes.io"
// private claims), so tools that decode them see what they expect.
const (
	tokenIssuer          = "https://kubernetes.default.svc.cluster.local"
	defaultTokenLifetime = time.Hour
	minTokenLifetime     = 10 * time.Minute
	tokenLeeway          = time.Minute
)

// apiAudiences are the audiences the API accepts in a token.
var apiAudiences = []string{tokenIssuer}

type tokenRef struct {
	Name string    `json:"name,omitempty"`
	UID  types.UID `json:"uid,omitempty"`
}

type kubernetesClaims struct {
	Namespace      string    `json:"namespace,omitempty"`
	ServiceAccount tokenRef  `json:"serviceaccount"`
	Pod            *tokenRef `json:"pod,omitempty"`
	Secret         *tokenRef `json:"secret,omitempty"`
	Node           *tokenRef `json:"node,omitempty"`
}

type tokenClaims struct {
	jwt.Claims
	Kubernetes kubernetesClaims `json:"kubernetes.io"`
}

// tokens issues and verifies service-account tokens with one key.
type tokens struct {
	signer   jose.Signer
	verifyBy crypto.PublicKey
}

func newTokens(key crypto.Signer) (*tokens, error) {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:]) // upstream's key ID
	var alg jose.SignatureAlgorithm
	switch key.Public().(type) {
	case *ecdsa.PublicKey:
		alg = jose.ES256
	case *rsa.PublicKey:
		alg = jose.RS256
	default:
		return nil, fmt.Errorf("token signer: unsupported key %T", key)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("token signer: %w", err)
	}
	return &tokens{signer: signer, verifyBy: key.Public()}, nil
}

// issue signs a token for a service account, optionally bound to an
// object, for the audiences, valid for ttl.
func (t *tokens) issue(now time.Time, k kubernetesClaims, audiences []string, ttl time.Duration) (string, time.Time, error) {
	exp := now.Add(ttl)
	claims := tokenClaims{
		Claims: jwt.Claims{
			Issuer:    tokenIssuer,
			Subject:   serviceAccountUser(k.Namespace, k.ServiceAccount.Name),
			Audience:  audiences,
			Expiry:    jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        string(newUID()),
		},
		Kubernetes: k,
	}
	token, err := jwt.Signed(t.signer).Claims(claims).Serialize()
	return token, exp, err
}

var errBadToken = errors.New("invalid bearer token")

// verify checks a token's signature, issuer, audience and lifetime, and
// returns its claims.
func (t *tokens) verify(now time.Time, raw string) (*tokenClaims, error) {
	parsed, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		return nil, errBadToken
	}
	var claims tokenClaims
	if err := parsed.Claims(t.verifyBy, &claims); err != nil {
		return nil, errBadToken
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: tokenIssuer, Time: now}, tokenLeeway); err != nil {
		return nil, errBadToken
	}
	if !slices.ContainsFunc(apiAudiences, func(a string) bool { return slices.Contains(claims.Audience, a) }) {
		return nil, errBadToken
	}
	if claims.Kubernetes.Namespace == "" || claims.Kubernetes.ServiceAccount.Name == "" {
		return nil, errBadToken
	}
	return &claims, nil
}

// serviceAccountUser is a service account's user name, as upstream spells it.
func serviceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// serviceAccountGroups are the groups every service account is in.
func serviceAccountGroups(namespace string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, groupAuthenticated}
}
