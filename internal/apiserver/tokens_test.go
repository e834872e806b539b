package apiserver

import (
	"crypto"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"mini.dev/mini/internal/pki"
)

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	key, err := pki.LoadOrCreateKey(filepath.Join(dir, "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := pki.LoadOrCreateKey(filepath.Join(dir, "sa.key"))
	if err != nil || !again.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
		t.Fatalf("reloaded key differs (%v)", err)
	}
	other, _ := pki.LoadOrCreateKey(filepath.Join(dir, "other.key"))
	tk, err := newTokens(key)
	if err != nil {
		t.Fatal(err)
	}
	otherTk, _ := newTokens(other)
	now := time.Now()
	sa := kubernetesClaims{Namespace: "default", ServiceAccount: tokenRef{Name: "builder", UID: "u1"}, Pod: &tokenRef{Name: "p", UID: "u2"}}
	good, exp, err := tk.issue(now, sa, apiAudiences, time.Hour)
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatal(err, exp)
	}
	foreign, _, _ := otherTk.issue(now, sa, apiAudiences, time.Hour)
	wrongAudience, _, _ := tk.issue(now, sa, []string{"vault"}, time.Hour)
	tests := []struct {
		name  string
		token string
		at    time.Time
		ok    bool
	}{
		{"valid", good, now, true},
		{"valid near expiry", good, now.Add(59 * time.Minute), true},
		{"expired", good, now.Add(2 * time.Hour), false},
		{"not yet valid", good, now.Add(-time.Hour), false},
		{"signed by another key", foreign, now, false},
		{"for another audience", wrongAudience, now, false},
		{"garbage", "a.b.c", now, false},
		{"empty", "", now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := tk.verify(tt.at, tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("verify = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, errBadToken) {
				t.Fatalf("error %v is not errBadToken", err)
			}
			if tt.ok && (claims.Subject != "system:serviceaccount:default:builder" || claims.Kubernetes.Pod.UID != "u2") {
				t.Fatalf("claims %+v", claims)
			}
		})
	}
}
