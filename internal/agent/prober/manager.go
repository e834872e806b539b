package prober

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Config is what a Manager needs.
type Config struct {
	// Exec runs exec probes and hooks; nil means the runtime runs no
	// processes (the sim backend): every probe then passes at once and
	// hooks do nothing.
	Exec Execer
	// Recorder records the Unhealthy events; nil drops them.
	Recorder record.EventRecorder
	// Clock times initial delays, periods and sleep hooks; nil: real.
	Clock clock.WithTicker
	// OnChange is called (from a worker goroutine, never under a lock)
	// when a readiness, startup or liveness result of the pod changed:
	// the agent resyncs the pod.
	OnChange func(podUID types.UID)
	Logger   *slog.Logger
	// HTTPClient's transport carries httpGet probes and hooks; nil: one
	// that skips TLS verification, uses no proxy and no keep-alives, as
	// kubelet's. Its timeout and redirect policy are set per probe.
	HTTPClient *http.Client
}

// Manager runs the probes of one node's containers. Its methods are safe
// for concurrent use.
type Manager struct {
	exec     Execer
	rec      record.EventRecorder
	clock    clock.WithTicker
	onChange func(types.UID)
	log      *slog.Logger
	client   *http.Client

	mu   sync.Mutex
	pods map[types.UID]*podProbes
}

// podProbes is the probe state of one pod.
type podProbes struct {
	// pod is the latest pod Sync saw: workers read its IP and deletion
	// state from here, since the first Sync may precede the pod IP.
	pod        *corev1.Pod
	containers map[string]*containerProbes // by container name
}

// containerProbes is the probe state of one container instance.
type containerProbes struct {
	id        string
	name      string
	startedAt time.Time
	// stop ends every worker of this container; stopLive ends only the
	// liveness and startup workers (pod deletion silences them).
	stop, stopLive context.CancelFunc

	hasReadiness bool
	ready        bool
	started      bool
	// startedCh is closed once started turns true: liveness and
	// readiness workers wait on it.
	startedCh chan struct{}
	// failed is the probe whose failure asks for a kill (liveness or
	// startup), failedMsg the agent's message for it.
	failed    *probeType
	failedMsg string
	deleting  bool
	// triggers wake the workers for a probe now: Sync pokes them when the
	// pod's IP turns known, so the first network probe need not wait a
	// period.
	triggers []chan struct{}
}

// New returns a Manager; it starts no goroutine until Sync sees a
// running container with probes.
func New(cfg Config) *Manager {
	m := &Manager{
		exec:     cfg.Exec,
		rec:      cfg.Recorder,
		clock:    cfg.Clock,
		onChange: cfg.OnChange,
		log:      cfg.Logger,
		client:   cfg.HTTPClient,
		pods:     map[types.UID]*podProbes{},
	}
	if m.rec == nil {
		m.rec = &record.FakeRecorder{}
	}
	if m.clock == nil {
		m.clock = clock.RealClock{}
	}
	if m.onChange == nil {
		m.onChange = func(types.UID) {}
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("component", "prober")
	if m.client == nil {
		m.client = &http.Client{Transport: newProbeTransport()}
	}
	return m
}

// Sync brings the pod's workers in line with its running containers
// (keyed by container name): it starts the probes of containers (and
// restartable init containers) it has not seen, and stops those of
// containers gone or replaced by a new ID. A terminated pod (Succeeded,
// Failed) keeps no workers; a pod being deleted keeps only readiness
// probing, as kubelet's liveness and startup results turn to success
// once deletion starts. The Manager keeps pod (workers read its IP from
// it until the next Sync): the caller must not modify it afterwards.
func (m *Manager) Sync(pod *corev1.Pod, running map[string]Running) {
	if m.exec == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	pp := m.pods[pod.UID]
	if pp == nil {
		pp = &podProbes{containers: map[string]*containerProbes{}}
		m.pods[pod.UID] = pp
	}
	gotIP := pp.pod != nil && podIP(pp.pod) == "" && podIP(pod) != ""
	pp.pod = pod
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		running = nil
	}
	want := map[string]bool{}
	for _, c := range probedContainers(pod) {
		r, ok := running[c.Name]
		if !ok || r.ContainerID == "" {
			continue
		}
		want[c.Name] = true
		cp := pp.containers[c.Name]
		if cp != nil && cp.id != r.ContainerID {
			cp.stop()
			cp = nil
		}
		if cp == nil {
			cp = m.startWorkers(pod.UID, c, r)
			pp.containers[c.Name] = cp
		}
		if gotIP {
			cp.poke()
		}
		if pod.DeletionTimestamp != nil && !cp.deleting {
			cp.deleting = true
			cp.stopLive()
			cp.failed, cp.failedMsg = nil, ""
			cp.markStarted()
		}
	}
	for name, cp := range pp.containers {
		if !want[name] {
			cp.stop()
			delete(pp.containers, name)
		}
	}
	if len(pp.containers) == 0 {
		delete(m.pods, pod.UID)
	}
}

// Remove stops every worker of the pod and forgets its results.
func (m *Manager) Remove(podUID types.UID) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pp := m.pods[podUID]; pp != nil {
		for _, cp := range pp.containers {
			cp.stop()
		}
		delete(m.pods, podUID)
	}
}

// Ready reports the container's readiness: true when it has no
// readiness probe, false until its first success otherwise, and false
// while its startup probe has not succeeded. A container Sync has not
// seen (or every container under the sim runtime) counts as having no
// probes.
func (m *Manager) Ready(podUID types.UID, containerID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := m.lookup(podUID, containerID)
	if cp == nil {
		return true
	}
	return cp.started && (!cp.hasReadiness || cp.ready)
}

// Started reports whether the container's startup probe succeeded (true
// when it has none).
func (m *Manager) Started(podUID types.UID, containerID string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := m.lookup(podUID, containerID)
	return cp == nil || cp.started
}

// Liveness reports whether the container failed its liveness or startup
// probe, and so must be killed. message is kubelet's: "Container c
// failed liveness probe" (or "startup probe"); the agent appends ", will
// be restarted" when the restart policy restarts it, records it as the
// Killing event and kills the container with KillGracePeriod.
func (m *Manager) Liveness(podUID types.UID, containerID string) (failed bool, message string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cp := m.lookup(podUID, containerID)
	if cp == nil || cp.failed == nil {
		return false, ""
	}
	return true, cp.failedMsg
}

// KillGracePeriod is the grace period for killing a container that
// failed its liveness or startup probe, as kubelet's
// setTerminationGracePeriod: the pod's deletion grace period when it is
// being deleted, else the failed probe's terminationGracePeriodSeconds,
// else the pod's; never under kubelet's two-second minimum.
func (m *Manager) KillGracePeriod(pod *corev1.Pod, containerID string) time.Duration {
	m.mu.Lock()
	var failed *probeType
	var name string
	if cp := m.lookup(pod.UID, containerID); cp != nil {
		failed, name = cp.failed, cp.name
	}
	m.mu.Unlock()
	seconds := int64(-1)
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		seconds = *pod.DeletionGracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		seconds = *pod.Spec.TerminationGracePeriodSeconds
		if c := findContainer(pod, name); c != nil && failed != nil {
			if p := probeOf(c, *failed); p != nil && p.TerminationGracePeriodSeconds != nil {
				seconds = *p.TerminationGracePeriodSeconds
			}
		}
	}
	if d := time.Duration(seconds) * time.Second; d > minimumGracePeriod {
		return d
	}
	return minimumGracePeriod
}

// lookup finds a container's state by ID; m.mu is held.
func (m *Manager) lookup(podUID types.UID, containerID string) *containerProbes {
	pp := m.pods[podUID]
	if pp == nil {
		return nil
	}
	for _, cp := range pp.containers {
		if cp.id == containerID {
			return cp
		}
	}
	return nil
}

// currentPod returns the latest pod Sync saw; nil once it is removed.
func (m *Manager) currentPod(uid types.UID) *corev1.Pod {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pp := m.pods[uid]; pp != nil {
		return pp.pod
	}
	return nil
}

// startWorkers starts one worker per probe of a new container instance;
// m.mu is held.
func (m *Manager) startWorkers(uid types.UID, c *corev1.Container, r Running) *containerProbes {
	c = c.DeepCopy() // the worker outlives the pod object it came from
	ctx, stop := context.WithCancel(context.Background())
	liveCtx, stopLive := context.WithCancel(ctx)
	cp := &containerProbes{
		id: r.ContainerID, name: c.Name, startedAt: r.StartedAt,
		stop: stop, stopLive: stopLive,
		hasReadiness: c.ReadinessProbe != nil,
		startedCh:    make(chan struct{}),
	}
	if c.StartupProbe == nil {
		cp.markStarted()
	}
	for _, t := range []probeType{startup, liveness, readiness} {
		spec := probeOf(c, t)
		if spec == nil {
			continue
		}
		w := &worker{m: m, uid: uid, container: c, cp: cp, kind: t, spec: withDefaults(spec), trigger: make(chan struct{}, 1)}
		cp.triggers = append(cp.triggers, w.trigger)
		wctx := ctx
		if t != readiness {
			wctx = liveCtx
		}
		go w.run(wctx)
	}
	return cp
}

func (cp *containerProbes) poke() {
	for _, ch := range cp.triggers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (cp *containerProbes) markStarted() {
	if !cp.started {
		cp.started = true
		close(cp.startedCh)
	}
}

// probedContainers are the containers whose probes kubelet runs: the
// regular ones and the restartable (sidecar) init containers.
func probedContainers(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out = append(out, c)
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, c := range probedContainers(pod) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func probeOf(c *corev1.Container, t probeType) *corev1.Probe {
	switch t {
	case liveness:
		return c.LivenessProbe
	case readiness:
		return c.ReadinessProbe
	default:
		return c.StartupProbe
	}
}

// withDefaults fills the fields the API server defaults.
func withDefaults(p *corev1.Probe) *corev1.Probe {
	p = p.DeepCopy()
	if p.PeriodSeconds <= 0 {
		p.PeriodSeconds = defaultPeriodSeconds
	}
	if p.TimeoutSeconds <= 0 {
		p.TimeoutSeconds = defaultTimeoutSeconds
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = defaultSuccessThreshold
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = defaultFailureThreshold
	}
	return p
}

// killMessage is kubelet's message for a container that failed t.
func killMessage(name string, t probeType) string {
	if t == startup {
		return fmt.Sprintf("Container %s failed startup probe", name)
	}
	return fmt.Sprintf("Container %s failed liveness probe", name)
}
