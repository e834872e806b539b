package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mini.dev/mini/internal/store"
)

func run(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(ctx, args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	// A test binary carries no dependency list; the version package tests
	// the real binary. Here only the shape is checked.
	out, _, err := run(t, context.Background(), "version")
	if err != nil || !strings.Contains(out, "Kubernetes v") {
		t.Fatalf("version: %q, %v", out, err)
	}
	out, _, err = run(t, context.Background(), "version", "-o", "json")
	var v struct {
		Mini       string
		Kubernetes struct{ GitVersion string }
	}
	if err != nil || json.Unmarshal([]byte(out), &v) != nil || v.Mini == "" || v.Kubernetes.GitVersion == "" {
		t.Fatalf("version -o json: %q, %v", out, err)
	}
	if _, _, err := run(t, context.Background(), "version", "-o", "yaml"); err == nil {
		t.Fatal("version -o yaml: no error")
	}
}

func TestUnknownCommandAndFlag(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"server", "--no-such-flag"}} {
		if _, _, err := run(t, context.Background(), args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestServerRunsTheStoreUntilCancelled starts `mini server` on a fresh data
// dir, waits until it is ready, stops it, and checks what it left behind:
// a store that opens cleanly and an admin kubeconfig only root can read.
func TestServerRunsTheStoreUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var errOut syncBuffer
	go func() {
		// No node: this test is about the store, and a node would leave
		// its bridge on the machine.
		done <- Run(ctx, []string{"server", "--disable-agent", "--data-dir", dir, "--compact-interval", "1ms",
			"--bind-address", "127.0.0.1", "--https-listen-port", "0"},
			Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &errOut})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errOut.String(), "msg=ready") {
		if time.Now().After(deadline) {
			t.Fatalf("server not ready: %s", errOut.String())
		}
		select {
		case err := <-done:
			t.Fatalf("server exited early: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "kubeconfig.yaml")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("kubeconfig: %v %v", err, st)
	}
	s, err := store.Open(store.Config{Dir: dir})
	if err != nil {
		t.Fatalf("reopening %s: %v", filepath.Join(dir, store.FileName), err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer a test can read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
