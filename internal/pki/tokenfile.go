package pki

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultTokenDescription marks the token a server makes for itself.
const DefaultTokenDescription = "the default join token of mini server (<data-dir>/token)"

// TokenSecrets is what the default token needs of the API: kube-system's
// Secrets (client-go's SecretInterface has these).
type TokenSecrets interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
	Create(ctx context.Context, secret *corev1.Secret, opts metav1.CreateOptions) (*corev1.Secret, error)
}

// EnsureDefaultToken returns the server's default join token, kept in the
// file at path (mode 0600) and as its bootstrap Secret, never expiring.
// The first start makes both; later starts keep the token, so that a
// token handed out before a restart still works: a deleted Secret is made
// again, and a CA that changed (a new tls dir) gets its new hash. Only a
// Secret that no longer carries the file's secret gets a new token.
func EnsureDefaultToken(ctx context.Context, secrets TokenSecrets, path string, caPEM []byte) (Token, error) {
	tok, err := ReadTokenFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, ErrMalformedToken) {
		return Token{}, err
	}
	if err == nil {
		tok.CAHash = CAHash(caPEM)
		s, err := secrets.Get(ctx, BootstrapSecretName(tok.ID), metav1.GetOptions{})
		switch {
		case err == nil && CheckBootstrapSecret(s, tok.ID, tok.Secret, time.Now()) == nil:
			return tok, writeTokenFile(path, tok)
		case apierrors.IsNotFound(err):
			return tok, createTokenSecret(ctx, secrets, path, tok)
		case err != nil:
			return Token{}, fmt.Errorf("reading the default join token's Secret: %w", err)
		}
		// The Secret was changed under us: start afresh.
	}
	if tok, err = NewToken(caPEM); err != nil {
		return Token{}, err
	}
	return tok, createTokenSecret(ctx, secrets, path, tok)
}

func createTokenSecret(ctx context.Context, secrets TokenSecrets, path string, tok Token) error {
	s := tok.BootstrapSecret(0, DefaultTokenDescription, time.Now())
	if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the default join token: %w", err)
	}
	return writeTokenFile(path, tok)
}

// writeTokenFile writes the token unless the file already says it.
func writeTokenFile(path string, tok Token) error {
	if b, err := os.ReadFile(path); err == nil && strings.TrimSpace(string(b)) == tok.String() {
		return nil
	}
	return WriteFileAtomic(path, []byte(tok.String()+"\n"), 0o600)
}

// ReadTokenFile reads a token written by EnsureDefaultToken.
func ReadTokenFile(path string) (Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Token{}, err
	}
	return ParseToken(string(b))
}
