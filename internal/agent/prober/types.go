package prober

import (
	"context"
	"time"

	"mini.dev/mini/internal/runtime"
)

// Execer runs a command in a running container and waits for it: the
// runtime's ExecSync. It returns an error wrapping
// context.DeadlineExceeded when the command outlived timeout.
type Execer interface {
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtime.ExecResult, error)
}

// Running is a running container as the agent knows it.
type Running struct {
	ContainerID string
	// StartedAt is when the container's process started; initial delays
	// count from it.
	StartedAt time.Time
}

// probeType names a probe as kubelet's events do.
type probeType int

const (
	liveness probeType = iota
	readiness
	startup
)

func (t probeType) String() string {
	switch t {
	case liveness:
		return "Liveness"
	case readiness:
		return "Readiness"
	default:
		return "Startup"
	}
}

// result is the outcome of one probe, named as kubelet's probe.Result.
type result int

const (
	unknown result = iota
	success
	warning
	failure
)

func (r result) String() string {
	switch r {
	case success:
		return "success"
	case warning:
		return "warning"
	case failure:
		return "failure"
	default:
		return "unknown"
	}
}

// Event reasons, as kubelet's events package names them.
const (
	reasonUnhealthy    = "Unhealthy"
	reasonProbeWarning = "ProbeWarning"
	reasonHTTPFallback = "LifecycleHTTPFallback"
)

// Defaults the API server applies to probes; repeated here so pods that
// never went through defaulting (sim tests, static pods) still probe.
const (
	defaultPeriodSeconds    = 10
	defaultTimeoutSeconds   = 1
	defaultSuccessThreshold = 1
	defaultFailureThreshold = 3
	// maxProbeRetries is how often a probe that errored (rather than
	// failed) is tried again before the error is reported.
	maxProbeRetries = 3
	// maxOutput bounds the exec output and HTTP body kept from a probe.
	maxOutput = 10 << 10
	// minimumGracePeriod is kubelet's floor for killing a container.
	minimumGracePeriod = 2 * time.Second
)
