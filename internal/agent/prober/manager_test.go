package prober

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	miniruntime "mini.dev/mini/internal/runtime"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// event is one recorded event.
type event struct {
	ref                   *corev1.ObjectReference
	kind, reason, message string
}

// recorder keeps the events it is given.
type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) Event(obj runtime.Object, kind, reason, message string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, _ := obj.(*corev1.ObjectReference)
	r.events = append(r.events, event{ref, kind, reason, message})
}

func (r *recorder) Eventf(obj runtime.Object, kind, reason, format string, args ...any) {
	r.Event(obj, kind, reason, fmt.Sprintf(format, args...))
}

func (r *recorder) AnnotatedEventf(obj runtime.Object, _ map[string]string, kind, reason, format string, args ...any) {
	r.Eventf(obj, kind, reason, format, args...)
}

func (r *recorder) all() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func (r *recorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.message)
	}
	return out
}

// harness is a Manager on a fake clock with a scripted Execer: each
// exec probe takes the next exit code from codes (0 once they run out).
type harness struct {
	t       *testing.T
	m       *Manager
	clock   *testingclock.FakeClock
	rec     *recorder
	mu      sync.Mutex
	codes   map[string][]int32 // by the probe command's first word
	execs   map[string]int
	changes atomic.Int32
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, clock: testingclock.NewFakeClock(t0), rec: &recorder{},
		codes: map[string][]int32{}, execs: map[string]int{}}
	h.m = New(Config{
		Exec: &fakeExec{fn: func(cmd []string, _ time.Duration) (*miniruntime.ExecResult, error) {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.execs[cmd[0]]++
			var code int32
			if q := h.codes[cmd[0]]; len(q) > 0 {
				code, h.codes[cmd[0]] = q[0], q[1:]
			}
			return &miniruntime.ExecResult{ExitCode: code, Stdout: []byte(fmt.Sprintf("%s exit %d", cmd[0], code))}, nil
		}},
		Recorder: h.rec,
		Clock:    h.clock,
		OnChange: func(types.UID) { h.changes.Add(1) },
	})
	t.Cleanup(func() { h.m.Remove("uid-1") })
	return h
}

func (h *harness) script(cmd string, codes ...int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.codes[cmd] = codes
}

func (h *harness) execCount(cmd string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.execs[cmd]
}

// waitFor polls cond until it holds or a deadline passes.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// settle waits until the workers wait on the clock again; tick then
// moves the clock on by d.
func (h *harness) settle() { h.t.Helper(); h.waitFor("workers to wait", h.clock.HasWaiters) }

// tickAll waits until n workers wait on the clock, then moves it by d.
func (h *harness) tickAll(n int, d time.Duration) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("%d workers to wait", n), func() bool { return h.clock.Waiters() == n })
	h.clock.Step(d)
}

func (h *harness) tick(d time.Duration) {
	h.t.Helper()
	h.settle()
	h.clock.Step(d)
}

func execProbe(cmd string, period, success, failure int32) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{cmd}}},
		PeriodSeconds: period, SuccessThreshold: success, FailureThreshold: failure,
	}
}

func testPod(c corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{c}, TerminationGracePeriodSeconds: ptr.To[int64](30)},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: podAddr},
	}
}

func running(id string) map[string]Running {
	return map[string]Running{"app": {ContainerID: id, StartedAt: t0}}
}

func TestReadinessThresholds(t *testing.T) {
	h := newHarness(t)
	// Fail twice, succeed twice (successThreshold 2), fail once, then
	// fail again (failureThreshold 2).
	h.script("ready", 1, 1, 0, 0, 1, 1)
	pod := testPod(corev1.Container{Name: "app", ReadinessProbe: execProbe("ready", 5, 2, 2)})
	h.m.Sync(pod, running("c1"))
	want := []bool{false, false, false, true, true, false}
	for i, w := range want {
		if i > 0 {
			h.tick(5 * time.Second)
		}
		h.waitFor(fmt.Sprintf("probe %d", i+1), func() bool { return h.execCount("ready") == i+1 })
		h.settle()
		if got := h.m.Ready("uid-1", "c1"); got != w {
			t.Fatalf("after probe %d: Ready = %v, want %v", i+1, got, w)
		}
	}
	if got := h.changes.Load(); got != 2 {
		t.Errorf("OnChange called %d times, want 2 (ready, then not ready)", got)
	}
	msgs := h.rec.messages()
	wantMsgs := []string{"Readiness probe failed: ready exit 1", "Readiness probe failed: ready exit 1",
		"Readiness probe failed: ready exit 1", "Readiness probe failed: ready exit 1"}
	if fmt.Sprint(msgs) != fmt.Sprint(wantMsgs) {
		t.Errorf("events %q, want %q", msgs, wantMsgs)
	}
	e := h.rec.all()[0]
	if e.kind != corev1.EventTypeWarning || e.reason != "Unhealthy" || e.ref.FieldPath != "spec.containers{app}" || e.ref.Name != "web" {
		t.Errorf("event %+v on %+v", e, e.ref)
	}
	if !h.m.Started("uid-1", "c1") {
		t.Error("a container without a startup probe is started")
	}
}

func TestLivenessFailureHoldsUntilRestart(t *testing.T) {
	h := newHarness(t)
	h.script("live", 0, 1, 1, 1)
	grace := ptr.To[int64](5)
	p := execProbe("live", 10, 1, 3)
	p.TerminationGracePeriodSeconds = grace
	pod := testPod(corev1.Container{Name: "app", LivenessProbe: p})
	h.m.Sync(pod, running("c1"))
	for i := 0; i < 3; i++ {
		h.tick(10 * time.Second)
	}
	h.waitFor("liveness failure", func() bool { failed, _ := h.m.Liveness("uid-1", "c1"); return failed })
	if _, msg := h.m.Liveness("uid-1", "c1"); msg != "Container app failed liveness probe" {
		t.Errorf("message %q", msg)
	}
	if got := h.m.KillGracePeriod(pod, "c1"); got != 5*time.Second {
		t.Errorf("KillGracePeriod = %v, want the probe's 5s", got)
	}
	if !h.m.Ready("uid-1", "c1") {
		t.Error("no readiness probe: ready")
	}
	// On hold: the worker probes no more.
	if h.clock.HasWaiters() {
		t.Error("liveness worker still waiting after a failure")
	}
	if n := h.execCount("live"); n != 4 {
		t.Errorf("%d probes, want 4", n)
	}
	// The agent restarted the container: a fresh worker, fresh results.
	h.m.Sync(pod, running("c2"))
	h.waitFor("the new container's first probe", func() bool { return h.execCount("live") == 5 })
	h.settle()
	if failed, _ := h.m.Liveness("uid-1", "c2"); failed {
		t.Error("the restarted container inherited the failure")
	}
	if failed, _ := h.m.Liveness("uid-1", "c1"); failed {
		t.Error("the old container's result outlived it")
	}
}

func TestStartupGatesOtherProbes(t *testing.T) {
	h := newHarness(t)
	h.script("start", 1, 0)
	c := corev1.Container{Name: "app",
		StartupProbe:   execProbe("start", 2, 1, 30),
		ReadinessProbe: execProbe("ready", 10, 1, 3),
		LivenessProbe:  execProbe("live", 10, 1, 3),
	}
	h.m.Sync(testPod(c), running("c1"))
	h.waitFor("first startup probe", func() bool { return h.execCount("start") == 1 })
	h.settle()
	if h.m.Started("uid-1", "c1") || h.m.Ready("uid-1", "c1") {
		t.Fatal("started or ready before the startup probe succeeded")
	}
	if h.execCount("ready")+h.execCount("live") != 0 {
		t.Fatal("liveness or readiness ran before startup succeeded")
	}
	h.tick(2 * time.Second)
	h.waitFor("readiness after startup", func() bool { return h.execCount("ready") == 1 && h.execCount("live") == 1 })
	h.waitFor("ready", func() bool { return h.m.Ready("uid-1", "c1") })
	if !h.m.Started("uid-1", "c1") {
		t.Error("not started after the startup probe succeeded")
	}
	if h.execCount("start") != 2 {
		t.Errorf("startup probe ran %d times, want 2", h.execCount("start"))
	}
	if got := h.rec.messages(); len(got) != 1 || got[0] != "Startup probe failed: start exit 1" {
		t.Errorf("events %q", got)
	}
}

func TestStartupFailureKills(t *testing.T) {
	h := newHarness(t)
	h.script("start", 1, 1)
	h.m.Sync(testPod(corev1.Container{Name: "app", StartupProbe: execProbe("start", 1, 1, 2)}), running("c1"))
	h.tick(time.Second)
	h.waitFor("startup failure", func() bool { failed, _ := h.m.Liveness("uid-1", "c1"); return failed })
	if _, msg := h.m.Liveness("uid-1", "c1"); msg != "Container app failed startup probe" {
		t.Errorf("message %q", msg)
	}
}

func TestInitialDelay(t *testing.T) {
	h := newHarness(t)
	p := execProbe("ready", 10, 1, 3)
	p.InitialDelaySeconds = 30
	h.m.Sync(testPod(corev1.Container{Name: "app", ReadinessProbe: p}), running("c1"))
	h.tick(29 * time.Second)
	h.settle()
	if n := h.execCount("ready"); n != 0 {
		t.Fatalf("probed %d times before the initial delay", n)
	}
	h.clock.Step(time.Second)
	h.waitFor("ready after the delay", func() bool { return h.m.Ready("uid-1", "c1") })
}

func TestDeletionSilencesLiveness(t *testing.T) {
	h := newHarness(t)
	h.script("live", 1, 1, 1)
	pod := testPod(corev1.Container{Name: "app",
		LivenessProbe: execProbe("live", 10, 1, 1), StartupProbe: execProbe("start", 10, 1, 1)})
	h.script("start", 1)
	h.m.Sync(pod, running("c1"))
	h.waitFor("startup probe", func() bool { return h.execCount("start") == 1 })
	deleting := pod.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: t0}
	deleting.DeletionGracePeriodSeconds = ptr.To[int64](0)
	h.m.Sync(deleting, running("c1"))
	h.waitFor("no waiters", func() bool { return !h.clock.HasWaiters() })
	if failed, _ := h.m.Liveness("uid-1", "c1"); failed || !h.m.Started("uid-1", "c1") {
		t.Errorf("deleting pod: liveness failed %v, started %v", failed, h.m.Started("uid-1", "c1"))
	}
	if got := h.m.KillGracePeriod(deleting, "c1"); got != minimumGracePeriod {
		t.Errorf("KillGracePeriod = %v, want the 2s minimum", got)
	}
}

func TestSyncStopsGoneContainers(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{Name: "app", ReadinessProbe: execProbe("ready", 10, 1, 3)})
	h.m.Sync(pod, running("c1"))
	h.waitFor("ready", func() bool { return h.m.Ready("uid-1", "c1") })
	h.settle()
	h.m.Sync(pod, nil) // the container exited
	h.waitFor("worker gone", func() bool { return !h.clock.HasWaiters() })
	h.m.Sync(pod, running("c2"))
	h.settle()
	h.m.Remove("uid-1")
	h.waitFor("worker gone", func() bool { return !h.clock.HasWaiters() })
}

func TestSidecarProbed(t *testing.T) {
	h := newHarness(t)
	pod := testPod(corev1.Container{Name: "main"})
	pod.Spec.InitContainers = []corev1.Container{
		{Name: "once", ReadinessProbe: execProbe("never", 10, 1, 1)},
		{Name: "app", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), ReadinessProbe: execProbe("ready", 10, 1, 1)},
	}
	h.script("ready", 1)
	h.m.Sync(pod, map[string]Running{"app": {ContainerID: "s1", StartedAt: t0}, "once": {ContainerID: "i1", StartedAt: t0}})
	h.waitFor("sidecar probe", func() bool { return h.execCount("ready") == 1 })
	h.settle()
	if h.execCount("never") != 0 {
		t.Error("a plain init container was probed")
	}
	h.waitFor("event", func() bool { return len(h.rec.messages()) == 1 })
	if e := h.rec.all()[0]; e.ref.FieldPath != "spec.initContainers{app}" {
		t.Errorf("event on %s", e.ref.FieldPath)
	}
}

func TestNoExecerPassesEverything(t *testing.T) {
	m := New(Config{})
	pod := testPod(corev1.Container{Name: "app", ReadinessProbe: execProbe("ready", 10, 1, 3), StartupProbe: execProbe("s", 10, 1, 3)})
	m.Sync(pod, running("c1"))
	if failed, _ := m.Liveness("uid-1", "c1"); !m.Ready("uid-1", "c1") || !m.Started("uid-1", "c1") || failed {
		t.Error("sim: probes must pass at once")
	}
}

func TestProbeErrorIsNotAResult(t *testing.T) {
	h := newHarness(t)
	p := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("metrics")}}, FailureThreshold: 1}
	h.m.Sync(testPod(corev1.Container{Name: "app", LivenessProbe: p}), running("c1"))
	h.waitFor("event", func() bool { return len(h.rec.messages()) == 1 })
	h.settle()
	if got := h.rec.messages()[0]; got != `Liveness probe errored and resulted in unknown state: strconv.Atoi: parsing "metrics": invalid syntax` {
		t.Errorf("event %q", got)
	}
	if failed, _ := h.m.Liveness("uid-1", "c1"); failed {
		t.Error("an errored probe counted as a failure")
	}
}

// TestNetworkProbesThroughManager runs httpGet and tcpSocket probes of a
// container whose pod IP is loopback, and checks the events upstream
// records for them.
func TestNetworkProbesThroughManager(t *testing.T) {
	var healthy atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	port, refused := serverPort(t, srv), closedPort(t)
	h := newHarness(t)
	c := corev1.Container{Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port)}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
			PeriodSeconds: 10, FailureThreshold: 2},
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(refused)}},
			PeriodSeconds: 10},
	}
	pod := testPod(c)
	pod.Status.PodIP = ""
	h.m.Sync(pod, running("c1"))
	h.waitFor("both workers to wait", func() bool { return h.clock.Waiters() == 2 }) // no pod IP yet: nothing probed
	if got := h.rec.messages(); len(got) != 0 {
		t.Fatalf("events without a pod IP: %q", got)
	}
	h.m.Sync(testPod(c), running("c1"))
	// The IP wakes the workers at once, without a tick.
	h.waitFor("probes on the IP", func() bool { return len(h.rec.messages()) == 2 })
	h.tickAll(2, 10*time.Second)
	h.waitFor("liveness failure", func() bool { failed, _ := h.m.Liveness("uid-1", "c1"); return failed })
	h.waitFor("four events", func() bool { return len(h.rec.messages()) == 4 })
	want := map[string]int{
		"Liveness probe failed: HTTP probe failed with statuscode: 500":                                    2,
		fmt.Sprintf("Readiness probe failed: dial tcp 127.0.0.1:%d: connect: connection refused", refused): 2,
	}
	got := map[string]int{}
	for _, m := range h.rec.messages() {
		got[m]++
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if h.m.Ready("uid-1", "c1") {
		t.Error("ready with a refused readiness probe")
	}
}
