package prober

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"

	miniruntime "mini.dev/mini/internal/runtime"
)

func TestRunHook(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits = append(hits, r.URL.Path+" "+r.UserAgent())
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError) // hooks ignore the status, as upstream
	}))
	t.Cleanup(srv.Close)
	port, refused := serverPort(t, srv), closedPort(t)
	c := &corev1.Container{Name: "app"}
	for _, tc := range []struct {
		name    string
		h       corev1.LifecycleHandler
		exec    func([]string, time.Duration) (*miniruntime.ExecResult, error)
		wantErr bool
		message string
	}{
		{"exec ok", corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"touch", "/tmp/x"}}}, exitWith(0, "", ""), false, ""},
		{"exec fails", corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "exit 3"}}}, exitWith(3, "out", "err"), true,
			`Exec lifecycle hook ([sh -c exit 3]) for Container "app" in Pod "web_default(uid-1)" failed - error: command 'sh -c exit 3' exited with 3: err, message: "outerr"`},
		{"http ok", corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/shutdown", Port: intstr.FromInt(port)}}, nil, false, ""},
		{"http refused", corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/shutdown", Port: intstr.FromInt(refused)}}, nil, true,
			fmt.Sprintf(`HTTP lifecycle hook (/shutdown) for Container "app" in Pod "web_default(uid-1)" failed - error: Get "http://127.0.0.1:%d/shutdown": dial tcp 127.0.0.1:%d: connect: connection refused`, refused, refused)},
		{"no handler", corev1.LifecycleHandler{}, nil, true, "Cannot run handler: invalid handler: &LifecycleHandler{Exec:nil,HTTPGet:nil,TCPSocket:nil,Sleep:nil,}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			m := New(Config{Exec: &fakeExec{fn: func(cmd []string, timeout time.Duration) (*miniruntime.ExecResult, error) {
				ran = cmd
				if timeout != 0 {
					t.Errorf("hook exec with timeout %v, want none", timeout)
				}
				return tc.exec(cmd, timeout)
			}}})
			pod := testPod(*c)
			msg, err := m.RunHook(context.Background(), pod, c, "c1", &tc.h)
			if (err != nil) != tc.wantErr || msg != tc.message {
				t.Fatalf("got %q, %v; want %q (error %v)", msg, err, tc.message, tc.wantErr)
			}
			if tc.h.Exec != nil && strings.Join(ran, " ") != strings.Join(tc.h.Exec.Command, " ") {
				t.Errorf("ran %q", ran)
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != 1 || !strings.HasPrefix(hits[0], "/shutdown kube-lifecycle/") {
		t.Errorf("server saw %q", hits)
	}
}

func TestHTTPSHookFallsBackToHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	rec := &recorder{}
	m := New(Config{Exec: &fakeExec{}, Recorder: rec})
	c := &corev1.Container{Name: "app"}
	h := &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt(serverPort(t, srv)), Scheme: corev1.URISchemeHTTPS}}
	if msg, err := m.RunHook(context.Background(), testPod(*c), c, "c1", h); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	ev := rec.all()
	if len(ev) != 1 || ev[0].reason != "LifecycleHTTPFallback" ||
		ev[0].message != fmt.Sprintf("request to HTTPS lifecycle hook 127.0.0.1:%d got HTTP response, retry with HTTP succeeded", serverPort(t, srv)) {
		t.Errorf("events %+v", ev)
	}
}

func TestSleepHook(t *testing.T) {
	clk := testingclock.NewFakeClock(t0)
	m := New(Config{Exec: &fakeExec{}, Clock: clk})
	c := &corev1.Container{Name: "app"}
	h := &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}

	done := make(chan error, 1)
	go func() { _, err := m.RunHook(context.Background(), testPod(*c), c, "c1", h); done <- err }()
	waitUntil(t, clk.HasWaiters)
	clk.Step(5 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		msg, _ := m.RunHook(ctx, testPod(*c), c, "c1", h)
		done <- fmt.Errorf("%s", msg)
	}()
	waitUntil(t, clk.HasWaiters)
	cancel()
	want := `Sleep lifecycle hook (5) for Container "app" in Pod "web_default(uid-1)" failed - error: container terminated before sleep hook finished`
	if err := <-done; err.Error() != want {
		t.Errorf("got %q", err)
	}
}

func TestNoExecerHooksDoNothing(t *testing.T) {
	m := New(Config{})
	c := &corev1.Container{Name: "app"}
	h := &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"false"}}}
	if msg, err := m.RunHook(context.Background(), testPod(*c), c, "c1", h); msg != "" || err != nil {
		t.Errorf("got %q, %v", msg, err)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}
