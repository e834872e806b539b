package testimages

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startHTTPApp builds the app and runs it directly (no container) on a free
// loopback port with env, returning its base URL. The process is killed at
// cleanup if the test has not stopped it.
func startHTTPApp(t *testing.T, version string, env ...string) (string, *exec.Cmd) {
	t.Helper()
	needGo(t)
	dir := t.TempDir()
	binary, err := buildHTTPApp(dir, version)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "httpapp")
	if err := os.WriteFile(bin, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cmd := exec.Command(bin)
	cmd.Env = append([]string{"PORT=" + strconv.Itoa(port)}, env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(t, "httpapp to listen", func() bool {
		code, _ := get(url + "/")
		return code == http.StatusOK
	})
	return url, cmd
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func get(url string) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTPAppServes(t *testing.T) {
	dir := t.TempDir()
	readyFile := filepath.Join(dir, "ready")
	url, cmd := startHTTPApp(t, "v9", "FAIL_AFTER=0.5", "READY_FILE="+readyFile, "WWW_DIR="+dir)
	hostname, _ := os.Hostname()

	if code, body := get(url + "/"); code != 200 || body != "v9 "+hostname+"\n" {
		t.Errorf("GET /: %d %q", code, body)
	}

	// /ready follows READY_FILE, and other paths serve WWW_DIR, both ways
	// a readiness probe can wait on a file `kubectl exec` creates.
	for _, c := range []struct {
		path string
		code int
	}{{"/ready", 503}, {"/test.html", 404}} {
		if code, body := get(url + c.path); code != c.code {
			t.Errorf("GET %s before the file exists: %d %q, want %d", c.path, code, body, c.code)
		}
	}
	os.WriteFile(readyFile, nil, 0o644)
	os.WriteFile(filepath.Join(dir, "test.html"), []byte("hello\n"), 0o644)
	if code, body := get(url + "/ready"); code != 200 {
		t.Errorf("GET /ready with the file: %d %q", code, body)
	}
	if code, body := get(url + "/test.html"); code != 200 || body != "hello\n" {
		t.Errorf("GET /test.html with the file: %d %q", code, body)
	}

	// /healthz turns 500 once FAIL_AFTER has passed (it may already have).
	waitFor(t, "/healthz to fail", func() bool {
		code, _ := get(url + "/healthz")
		return code == http.StatusInternalServerError
	})

	// SIGTERM ends it cleanly, as a graceful pod deletion expects.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

func TestHTTPAppHealthzWithoutFailAfter(t *testing.T) {
	url, _ := startHTTPApp(t, "v1")
	if code, body := get(url + "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", code, body)
	}
	if code, _ := get(url + "/ready"); code != 200 {
		t.Errorf("GET /ready without READY_FILE: %d", code)
	}
}
