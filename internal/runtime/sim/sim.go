package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"mini.dev/mini/internal/runtime"
)

// Version is what Version reports; node status shows it as "sim://1".
const (
	RuntimeName    = "sim"
	RuntimeVersion = "1"
)

// Config configures a sim runtime.
type Config struct {
	// Clock measures how long a container runs before it exits on its
	// own; nil means the real clock.
	Clock clock.WithDelayedExecution
}

// Runtime is an in-memory runtime.Runtime. The zero value is not usable;
// call New.
type Runtime struct {
	clock  clock.WithDelayedExecution
	events runtime.EventFanout // subscribers of ContainerEvents

	mu         sync.Mutex
	sandboxes  map[string]*sandbox
	containers map[string]*container
	images     map[string]*runtime.Image
}

type sandbox struct {
	cfg   runtime.PodSandboxConfig
	state runtime.PodSandbox
}

type container struct {
	status runtime.ContainerStatus
	// typ is the container's LabelContainerType, which decides whether
	// it exits on its own.
	typ string
	// exit is the pending self-exit of a running container, nil if it
	// runs until stopped.
	exit clock.Timer
}

var _ runtime.Runtime = (*Runtime)(nil)
var _ runtime.EventSource = (*Runtime)(nil)

// New returns an empty runtime; it starts nothing.
func New(cfg Config) (*Runtime, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Runtime{
		clock:      cfg.Clock,
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		images:     map[string]*runtime.Image{},
	}, nil
}

// newID returns 64 hex digits, the shape of containerd's IDs.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(context.Context) (runtime.VersionInfo, error) {
	return runtime.VersionInfo{RuntimeName: RuntimeName, RuntimeVersion: RuntimeVersion, RuntimeAPIVersion: "v1"}, nil
}

// RunPodSandbox implements runtime.Runtime.
func (r *Runtime) RunPodSandbox(_ context.Context, cfg *runtime.PodSandboxConfig) (string, error) {
	if cfg == nil {
		return "", fmt.Errorf("sim: nil sandbox config: %w", runtime.ErrInvalidState)
	}
	id := newID()
	sb := &sandbox{cfg: *cfg}
	sb.cfg.Labels = maps.Clone(cfg.Labels)
	sb.cfg.Annotations = maps.Clone(cfg.Annotations)
	sb.cfg.IPs = append([]string(nil), cfg.IPs...)
	sb.state = runtime.PodSandbox{
		ID: id, Name: cfg.Name, Namespace: cfg.Namespace, UID: cfg.UID, Attempt: cfg.Attempt,
		State: runtime.SandboxReady, CreatedAt: r.clock.Now(), IPs: sb.cfg.IPs,
		Labels: sb.cfg.Labels, Annotations: sb.cfg.Annotations,
	}
	r.mu.Lock()
	r.sandboxes[id] = sb
	r.mu.Unlock()
	return id, nil
}

// StopPodSandbox implements runtime.Runtime: its containers are killed.
func (r *Runtime) StopPodSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return fmt.Errorf("sim: sandbox %s: %w", id, runtime.ErrNotFound)
	}
	for _, c := range r.containers {
		if c.status.SandboxID == id && c.status.State == runtime.ContainerRunning {
			r.exitLocked(c, exitKilled, "Error")
		}
	}
	sb.state.State = runtime.SandboxNotReady
	return nil
}

// RemovePodSandbox implements runtime.Runtime.
func (r *Runtime) RemovePodSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sandboxes[id]; !ok {
		return nil
	}
	for cid, c := range r.containers {
		if c.status.SandboxID == id {
			if c.exit != nil {
				c.exit.Stop()
			}
			delete(r.containers, cid)
		}
	}
	delete(r.sandboxes, id)
	return nil
}

// PodSandboxStatus implements runtime.Runtime.
func (r *Runtime) PodSandboxStatus(_ context.Context, id string) (*runtime.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[id]
	if !ok {
		return nil, fmt.Errorf("sim: sandbox %s: %w", id, runtime.ErrNotFound)
	}
	return copySandbox(&sb.state), nil
}

// ListPodSandboxes implements runtime.Runtime.
func (r *Runtime) ListPodSandboxes(_ context.Context, f *runtime.SandboxFilter) ([]*runtime.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtime.PodSandbox
	for id, sb := range r.sandboxes {
		if f != nil && (f.ID != "" && f.ID != id || f.State != "" && f.State != sb.state.State ||
			!runtime.MatchLabels(f.LabelSelector, sb.state.Labels)) {
			continue
		}
		out = append(out, copySandbox(&sb.state))
	}
	return out, nil
}

func copySandbox(s *runtime.PodSandbox) *runtime.PodSandbox {
	c := *s
	c.IPs = append([]string(nil), s.IPs...)
	c.Labels = maps.Clone(s.Labels)
	c.Annotations = maps.Clone(s.Annotations)
	return &c
}

// CreateContainer implements runtime.Runtime.
func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, cfg *runtime.ContainerConfig, _ *runtime.PodSandboxConfig) (string, error) {
	if cfg == nil {
		return "", fmt.Errorf("sim: nil container config: %w", runtime.ErrInvalidState)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sb, ok := r.sandboxes[sandboxID]
	if !ok {
		return "", fmt.Errorf("sim: sandbox %s: %w", sandboxID, runtime.ErrNotFound)
	}
	if sb.state.State != runtime.SandboxReady {
		return "", fmt.Errorf("sim: sandbox %s is not ready: %w", sandboxID, runtime.ErrInvalidState)
	}
	name, _, err := normalizeImage(cfg.Image)
	if err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	img, ok := r.images[name]
	if !ok {
		return "", fmt.Errorf("sim: image %q: %w", cfg.Image, runtime.ErrNotFound)
	}
	id := newID()
	c := &container{typ: cfg.Labels[runtime.LabelContainerType]}
	c.status.Container = runtime.Container{
		ID: id, SandboxID: sandboxID, Name: cfg.Name, Attempt: cfg.Attempt,
		Image: name, ImageRef: img.RepoDigests[0], State: runtime.ContainerCreated,
		CreatedAt: r.clock.Now(), Labels: maps.Clone(cfg.Labels), Annotations: maps.Clone(cfg.Annotations),
	}
	r.containers[id] = c
	r.emitLocked(c)
	return id, nil
}

// StartContainer implements runtime.Runtime; it arms the container's
// self-exit when its pod asks for one (see the package doc).
func (r *Runtime) StartContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("sim: container %s: %w", id, runtime.ErrNotFound)
	}
	if c.status.State != runtime.ContainerCreated {
		return fmt.Errorf("sim: container %s is %s: %w", id, c.status.State, runtime.ErrInvalidState)
	}
	sb := r.sandboxes[c.status.SandboxID]
	c.status.State = runtime.ContainerRunning
	c.status.StartedAt = r.clock.Now()
	if plan, ok := exitPlanFor(c.typ, sb.cfg.RestartPolicy, sb.cfg.Annotations); ok {
		// The fake clock calls back while holding its own lock, which
		// StartContainer takes under r.mu: exit on a fresh goroutine so
		// the two locks are never taken in the other order.
		c.exit = r.clock.AfterFunc(plan.after, func() { go r.selfExit(id, plan.code) })
	}
	r.emitLocked(c)
	return nil
}

// selfExit ends a container that ran its course, unless it was stopped
// first.
func (r *Runtime) selfExit(id string, code int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok || c.status.State != runtime.ContainerRunning {
		return
	}
	c.exit = nil // it fired
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	r.exitLocked(c, code, reason)
}

// Exit codes of stopped containers: a sim process handles SIGTERM at once
// and exits 0; one killed without a grace period dies of SIGKILL (128+9).
const (
	exitGraceful int32 = 0
	exitKilled   int32 = 137
)

func (r *Runtime) exitLocked(c *container, code int32, reason string) {
	if c.exit != nil {
		c.exit.Stop()
		c.exit = nil
	}
	c.status.State = runtime.ContainerExited
	c.status.FinishedAt = r.clock.Now()
	c.status.ExitCode = code
	c.status.Reason = reason
	r.emitLocked(c)
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(_ context.Context, id string, timeout time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return fmt.Errorf("sim: container %s: %w", id, runtime.ErrNotFound)
	}
	switch c.status.State {
	case runtime.ContainerRunning:
		if timeout > 0 {
			r.exitLocked(c, exitGraceful, "Completed")
		} else {
			r.exitLocked(c, exitKilled, "Error")
		}
	case runtime.ContainerCreated:
		// A container that never ran exits without having started, as
		// runc reports it.
		r.exitLocked(c, exitKilled, "Error")
	}
	return nil
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil
	}
	if c.status.State == runtime.ContainerRunning {
		return fmt.Errorf("sim: container %s is running: %w", id, runtime.ErrInvalidState)
	}
	delete(r.containers, id)
	return nil
}

// ListContainers implements runtime.Runtime.
func (r *Runtime) ListContainers(_ context.Context, f *runtime.ContainerFilter) ([]*runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtime.Container
	for id, c := range r.containers {
		if f != nil && (f.ID != "" && f.ID != id || f.SandboxID != "" && f.SandboxID != c.status.SandboxID ||
			f.State != "" && f.State != c.status.State || !runtime.MatchLabels(f.LabelSelector, c.status.Labels)) {
			continue
		}
		cc := copyStatus(&c.status).Container
		out = append(out, &cc)
	}
	return out, nil
}

// ContainerStatus implements runtime.Runtime.
func (r *Runtime) ContainerStatus(_ context.Context, id string) (*runtime.ContainerStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, fmt.Errorf("sim: container %s: %w", id, runtime.ErrNotFound)
	}
	return copyStatus(&c.status), nil
}

func copyStatus(s *runtime.ContainerStatus) *runtime.ContainerStatus {
	c := *s
	c.Labels = maps.Clone(s.Labels)
	c.Annotations = maps.Clone(s.Annotations)
	return &c
}
