package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"mini.dev/mini/internal/runtime"
)

// Test IP plan: every server listens on loopback, which stands for the
// pod IP.
const podAddr = "127.0.0.1"

// fakeExec answers ExecSync from a function and counts the calls.
type fakeExec struct {
	fn    func(cmd []string, timeout time.Duration) (*runtime.ExecResult, error)
	calls chan []string
}

func (f *fakeExec) ExecSync(_ context.Context, _ string, cmd []string, timeout time.Duration) (*runtime.ExecResult, error) {
	if f.calls != nil {
		f.calls <- cmd
	}
	return f.fn(cmd, timeout)
}

func exitWith(code int32, stdout, stderr string) func([]string, time.Duration) (*runtime.ExecResult, error) {
	return func([]string, time.Duration) (*runtime.ExecResult, error) {
		return &runtime.ExecResult{ExitCode: code, Stdout: []byte(stdout), Stderr: []byte(stderr)}, nil
	}
}

func TestExecProbe(t *testing.T) {
	cmd := []string{"sh", "-c", "cat /tmp/healthy"}
	for _, tc := range []struct {
		name    string
		fn      func([]string, time.Duration) (*runtime.ExecResult, error)
		want    result
		output  string
		wantErr bool
	}{
		{"exit 0", exitWith(0, "ok\n", ""), success, "ok\n", false},
		{"exit 1 with output", exitWith(1, "out ", "cat: can't open '/tmp/healthy': No such file or directory\n"), failure,
			"out cat: can't open '/tmp/healthy': No such file or directory\n", false},
		{"timeout", func([]string, time.Duration) (*runtime.ExecResult, error) {
			return nil, fmt.Errorf("exec: %w", context.DeadlineExceeded)
		}, failure, `command "sh -c cat /tmp/healthy" timed out`, false},
		{"runtime error", func([]string, time.Duration) (*runtime.ExecResult, error) {
			return nil, errors.New("container is stopping")
		}, unknown, "", true},
		{"long output truncated", exitWith(1, strings.Repeat("x", 3*maxOutput), ""), failure, strings.Repeat("x", maxOutput), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gotTimeout time.Duration
			m := New(Config{Exec: &fakeExec{fn: func(c []string, d time.Duration) (*runtime.ExecResult, error) {
				gotTimeout = d
				return tc.fn(c, d)
			}}})
			res, out, err := m.execProbe(context.Background(), "c1", cmd, 3*time.Second)
			if res != tc.want || out != tc.output || (err != nil) != tc.wantErr {
				t.Fatalf("got %v %q %v, want %v %q err=%v", res, out, err, tc.want, tc.output, tc.wantErr)
			}
			if gotTimeout != 3*time.Second {
				t.Errorf("timeout passed to ExecSync = %v", gotTimeout)
			}
		})
	}
}

func TestExpandCommand(t *testing.T) {
	env := []corev1.EnvVar{{Name: "FILE", Value: "/tmp/healthy"}, {Name: "SECRET", ValueFrom: &corev1.EnvVarSource{}}}
	for in, want := range map[string]string{
		"cat $(FILE)":      "cat /tmp/healthy",
		"$(MISSING)":       "$(MISSING)",
		"$$(FILE)":         "$(FILE)",
		"a$(SECRET)b":      "ab",
		"$(FILE":           "$(FILE",
		"cost $5 and $":    "cost $5 and $",
		"$(FILE)$(FILE)":   "/tmp/healthy/tmp/healthy",
		"no references":    "no references",
		"$$$$":             "$$",
		"x$(FILE)y$$z$(Q)": "x/tmp/healthyy$z$(Q)",
	} {
		if got := expandCommand([]string{in}, env)[0]; got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolvePort(t *testing.T) {
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}
	for _, tc := range []struct {
		port    intstr.IntOrString
		want    int
		wantErr string
	}{
		{intstr.FromInt32(80), 80, ""},
		{intstr.FromString("http"), 8080, ""},
		{intstr.FromString("9090"), 9090, ""},
		{intstr.FromString("web"), -1, `strconv.Atoi: parsing "web": invalid syntax`},
		{intstr.FromInt32(70000), 70000, "invalid port number: 70000"},
	} {
		got, err := resolvePort(tc.port, c)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && err.Error() != tc.wantErr) {
			t.Errorf("resolvePort(%v) = %d, %v; want %d, %q", tc.port.String(), got, err, tc.want, tc.wantErr)
		}
	}
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", podAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func serverPort(t *testing.T, s *httptest.Server) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(s.URL, "http://"), "https://"))
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestHTTPProbe(t *testing.T) {
	var gotUA, gotAccept, gotHeader, gotHost string
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotAccept, gotHeader, gotHost = r.UserAgent(), r.Header.Get("Accept"), r.Header.Get("X-Custom"), r.Host
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "secret detail", 500) })
	mux.HandleFunc("/local-redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/healthz", http.StatusFound) })
	mux.HandleFunc("/remote-redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	tlsSrv := httptest.NewTLSServer(mux)
	t.Cleanup(tlsSrv.Close)
	port, tlsPort, refused := serverPort(t, srv), serverPort(t, tlsSrv), closedPort(t)
	c := &corev1.Container{Ports: []corev1.ContainerPort{{Name: "web", ContainerPort: int32(port)}}}

	for _, tc := range []struct {
		name   string
		action corev1.HTTPGetAction
		want   result
		output string // prefix
	}{
		{"ok by port name", corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("web")}, success, "ok"},
		{"status 500", corev1.HTTPGetAction{Path: "/fail", Port: intstr.FromInt(port)}, failure, "HTTP probe failed with statuscode: 500"},
		{"local redirect followed", corev1.HTTPGetAction{Path: "/local-redirect", Port: intstr.FromInt(port)}, success, "ok"},
		{"remote redirect not followed", corev1.HTTPGetAction{Path: "/remote-redirect", Port: intstr.FromInt(port)}, warning,
			"Probe terminated redirects, Response body: "},
		{"https without verification", corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(tlsPort), Scheme: corev1.URISchemeHTTPS}, success, "ok"},
		{"refused", corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(refused)}, failure,
			fmt.Sprintf(`Get "http://127.0.0.1:%d/healthz": dial tcp 127.0.0.1:%d: connect: connection refused`, refused, refused)},
		{"timeout", corev1.HTTPGetAction{Path: "/slow", Port: intstr.FromInt(port)}, failure,
			fmt.Sprintf(`Get "http://127.0.0.1:%d/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, port)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Config{Exec: &fakeExec{}})
			req, err := newHTTPGetRequest(context.Background(), &tc.action, c, podAddr, "probe")
			if err != nil {
				t.Fatal(err)
			}
			res, out, err := m.httpProbe(req, 300*time.Millisecond)
			if err != nil || res != tc.want || !strings.HasPrefix(out, tc.output) {
				t.Fatalf("got %v %q %v, want %v %q", res, out, err, tc.want, tc.output)
			}
		})
	}

	t.Run("headers", func(t *testing.T) {
		m := New(Config{Exec: &fakeExec{}})
		a := &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(port), HTTPHeaders: []corev1.HTTPHeader{
			{Name: "X-Custom", Value: "v"}, {Name: "Host", Value: "app.example"}}}
		req, err := newHTTPGetRequest(context.Background(), a, c, podAddr, "probe")
		if err != nil {
			t.Fatal(err)
		}
		if res, out, _ := m.httpProbe(req, time.Second); res != success {
			t.Fatalf("got %v %q", res, out)
		}
		if !strings.HasPrefix(gotUA, "kube-probe/") || gotAccept != "*/*" || gotHeader != "v" || gotHost != "app.example" {
			t.Errorf("User-Agent %q Accept %q X-Custom %q Host %q", gotUA, gotAccept, gotHeader, gotHost)
		}
	})
}

func TestTCPProbe(t *testing.T) {
	l, err := net.Listen("tcp", podAddr+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open, refused := l.Addr().(*net.TCPAddr).Port, closedPort(t)
	for _, tc := range []struct {
		port   int
		want   result
		output string
	}{
		{open, success, ""},
		{refused, failure, fmt.Sprintf("dial tcp 127.0.0.1:%d: connect: connection refused", refused)},
	} {
		res, out, err := tcpProbe(context.Background(), podAddr, tc.port, time.Second)
		if err != nil || res != tc.want || out != tc.output {
			t.Errorf("port %d: got %v %q %v, want %v %q", tc.port, res, out, err, tc.want, tc.output)
		}
	}
}

func TestGRPCProbe(t *testing.T) {
	serve := func(withHealth bool) int {
		l, err := net.Listen("tcp", podAddr+":0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		if withHealth {
			h := health.NewServer()
			h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
			h.SetServingStatus("db", healthpb.HealthCheckResponse_NOT_SERVING)
			healthpb.RegisterHealthServer(s, h)
		}
		go s.Serve(l)
		t.Cleanup(s.Stop)
		return l.Addr().(*net.TCPAddr).Port
	}
	healthy, bare, refused := serve(true), serve(false), closedPort(t)
	for _, tc := range []struct {
		name    string
		port    int
		service string
		want    result
		output  string
	}{
		{"serving", healthy, "", success, "service healthy"},
		{"not serving", healthy, "db", failure, `service unhealthy (responded with "NOT_SERVING")`},
		{"unknown service", healthy, "cache", failure, "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"},
		{"no health service", bare, "", failure,
			"error: this server does not implement the grpc health protocol (grpc.health.v1.Health): unknown service grpc.health.v1.Health"},
		{"refused", refused, "", failure,
			fmt.Sprintf(`timeout: failed to connect service "127.0.0.1:%d" within 300ms: context deadline exceeded`, refused)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, out, err := grpcProbe(context.Background(), podAddr, tc.service, tc.port, 300*time.Millisecond)
			if err != nil || res != tc.want || out != tc.output {
				t.Fatalf("got %v %q %v, want %v %q", res, out, err, tc.want, tc.output)
			}
		})
	}
}
