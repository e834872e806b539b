package runtime

import (
	"context"
	"io"
	"time"
)

// Streamer is implemented by backends whose containers run processes: it
// backs exec probes and hooks, `kubectl exec`, `attach` and
// `port-forward`. The sim backend does not implement it; the agent then
// treats probes as passing and refuses streams.
type Streamer interface {
	// ExecSync runs cmd in a running container and waits for it, at most
	// timeout (zero: no limit); a command that outlives timeout is killed
	// and ErrTimeout returned.
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*ExecResult, error)
	// Exec runs cmd in a running container with the given streams and
	// returns its exit code once it ends (or ctx does).
	Exec(ctx context.Context, containerID string, cmd []string, s Streams) (exitCode int32, err error)
	// Attach connects the streams to a running container's main process
	// (stdin only when the container was created with Stdin) until the
	// process ends or ctx does.
	Attach(ctx context.Context, containerID string, s Streams) error
	// PortForward copies between stream and the TCP port in the sandbox's
	// network namespace until either side closes.
	PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error
}

// ExecResult is what ExecSync reports.
type ExecResult struct {
	Stdout, Stderr []byte
	ExitCode       int32
}

// Streams are the ends of an exec or attach session; nil ones are not
// connected.
type Streams struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Resize delivers terminal size changes (TTY sessions only).
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters.
type TerminalSize struct{ Width, Height uint16 }

// PodCIDRUpdater is implemented by backends that set up the pod network
// (CRI's UpdateRuntimeConfig): the agent calls it once the node's
// spec.podCIDR is known, before the first sandbox, and again if it
// changes.
type PodCIDRUpdater interface {
	UpdatePodCIDR(ctx context.Context, cidr string) error
}
