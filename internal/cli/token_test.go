package cli

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/join"
	"mini.dev/mini/internal/pki"
)

// startTestServer runs `mini server` without a node on dir until the test
// ends and returns the API's URL.
func startTestServer(t *testing.T, dir string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errOut syncBuffer
	go func() {
		done <- Run(ctx, []string{"server", "--disable-agent", "--data-dir", dir,
			"--bind-address", "127.0.0.1", "--https-listen-port", "0"},
			Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errOut})
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	apiRe := regexp.MustCompile(`msg=ready .*api=(https://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := apiRe.FindStringSubmatch(errOut.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %s", errOut.String())
		}
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("server exited early: %v\n%s", err, errOut.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestTokenAndJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server")
	}
	dir := t.TempDir()
	api := startTestServer(t, dir)
	ctx := context.Background()

	out, _, err := run(t, ctx, "token", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := pki.ParseToken(out)
	if err != nil {
		t.Fatalf("mini token printed %q: %v", out, err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.crt"))
	if err != nil || !tok.MatchesCA(caPEM) {
		t.Fatalf("the token does not carry the CA's hash: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "token")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v", err)
	}

	out, _, err = run(t, ctx, "token", "create", "--ttl", "1h", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	created, err := pki.ParseToken(out)
	if err != nil || created.ID == tok.ID || created.CAHash != tok.CAHash {
		t.Fatalf("mini token create printed %q: %v", out, err)
	}

	// Both tokens join, against the real endpoint; the identity works.
	for i, tk := range []pki.Token{tok, created} {
		id, err := join.Join(ctx, join.Config{Server: api, Token: tk.String(), NodeName: "joiner" + string(rune('a'+i)),
			NodeIP: "127.0.0.1", Dir: filepath.Join(t.TempDir(), "identity")})
		if err != nil {
			t.Fatalf("join with %s: %v", tk.ID, err)
		}
		client, err := kubernetes.NewForConfig(id.RESTConfig("test"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
			t.Fatalf("listing nodes as the joined node: %v", err)
		}
	}
	// Another machine cannot take a joined name.
	_, err = join.Join(ctx, join.Config{Server: api, Token: tok.String(), NodeName: "joinera", NodeIP: "127.0.0.1",
		Dir: filepath.Join(t.TempDir(), "identity")})
	if !errors.Is(err, join.ErrNodeNameTaken) {
		t.Fatalf("second machine as joinera: %v", err)
	}
}

func TestAgentErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a server")
	}
	dir := t.TempDir()
	api := startTestServer(t, dir)
	ctx := context.Background()
	out, _, err := run(t, ctx, "token", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := pki.ParseToken(out)
	wrong := tok
	wrong.Secret = "0000000000000000"
	other, _ := pki.LoadOrCreateCA(t.TempDir())
	mismatch := tok
	mismatch.CAHash = pki.CAHash(other.CertPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "https://" + ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, server, token, want string
	}{
		{"malformed token", api, "abcdef.0123456789abcdef", "malformed join token"},
		{"wrong secret", api, wrong.String(), "the server refused the join token: the join token is not valid"},
		{"CA mismatch", api, mismatch.String(), "the server's CA does not match the token"},
		{"unreachable", closed, tok.String(), "cannot reach the server at " + closed},
		{"no token", api, "", "a join token is required"},
		{"not https", "http://127.0.0.1:6443", tok.String(), "--join"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(tokenEnv, "")
			_, _, err := run(t, ctx, "agent", "--join", tt.server, "--token", tt.token, "--data-dir", t.TempDir(),
				"--node-name", "n1", "--node-ip", "127.0.0.1")
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("mini agent: %v; want one line saying %q", err, tt.want)
			}
		})
	}
	// An agent refuses a server's data dir.
	_, _, err = run(t, ctx, "agent", "--join", api, "--token", tok.String(), "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "holds a server's state") {
		t.Fatalf("agent on the server's data dir: %v", err)
	}
}
