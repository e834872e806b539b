package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogsTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mini.log")
	if err := os.WriteFile(path, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tail int
		want string
	}{{-1, "a\nb\nc\n"}, {2, "b\nc\n"}, {0, ""}, {10, "a\nb\nc\n"}} {
		var b bytes.Buffer
		if err := runLogs(context.Background(), &b, path, tc.tail, false, time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("--tail %d: %q, want %q", tc.tail, b.String(), tc.want)
		}
	}
	if err := runLogs(context.Background(), &bytes.Buffer{}, path+".missing", -1, false, time.Millisecond); err == nil ||
		!strings.Contains(err.Error(), "no log at") {
		t.Errorf("missing log: %v", err)
	}
}

func TestLogsFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mini.log")
	if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- runLogs(ctx, out, path, -1, true, time.Millisecond) }()
	waitFor(t, func() bool { return out.String() == "first\n" })
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("second\n")
	f.Close()
	waitFor(t, func() bool { return out.String() == "first\nsecond\n" })
	// Truncated (a new log): read again from its start.
	if err := os.WriteFile(path, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return out.String() == "first\nsecond\nx\n" })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond) // polling a condition
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
