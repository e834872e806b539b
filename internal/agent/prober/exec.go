package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// execProbe runs an exec probe: exit code 0 succeeds, any other fails
// with the command's output (stdout then stderr, as kubelet's
// RunInContainer joins them) as the message; a timeout fails with
// kubelet's "command ... timed out". Other runtime errors are errors.
func (m *Manager) execProbe(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (result, string, error) {
	// The runtime enforces timeout; the context's deadline, a little
	// later, only guards against one that does not.
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Second)
	defer cancel()
	out, err := m.runInContainer(ctx, containerID, cmd, timeout)
	var exit *exitError
	switch {
	case err == nil:
		return success, truncate(out), nil
	case errors.As(err, &exit):
		return failure, truncate(out), nil
	case errors.Is(err, context.DeadlineExceeded):
		return failure, timeoutMessage(cmd), nil
	}
	return unknown, "", err
}

// exitError is a command that ran and exited non-zero; its text is the
// one kubelet's CRI client gives such a command.
type exitError struct {
	cmd    []string
	code   int32
	stderr []byte
}

func (e *exitError) Error() string {
	return fmt.Sprintf("command '%s' exited with %d: %s", strings.Join(e.cmd, " "), e.code, e.stderr)
}

// runInContainer is kubelet's RunInContainer: ExecSync with stdout and
// stderr joined, and an *exitError for a non-zero exit. A zero timeout
// means none (hooks).
func (m *Manager) runInContainer(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, error) {
	res, err := m.exec.ExecSync(ctx, containerID, cmd, timeout)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s: %w", timeoutMessage(cmd), err)
		}
		return nil, err
	}
	out := append(append([]byte{}, res.Stdout...), res.Stderr...)
	if res.ExitCode != 0 {
		return out, &exitError{cmd: cmd, code: res.ExitCode, stderr: res.Stderr}
	}
	return out, nil
}

func timeoutMessage(cmd []string) string {
	return fmt.Sprintf("command %q timed out", strings.Join(cmd, " "))
}

func truncate(b []byte) string {
	if len(b) > maxOutput {
		b = b[:maxOutput]
	}
	return string(b)
}

// expandCommand expands $(VAR) references to the container's env
// variables given by value, as kubelet's
// ExpandContainerCommandOnlyStatic: "$$" is a literal "$", references to
// unknown variables stay as written. Variables from a source (valueFrom)
// expand to their (empty) literal value, as upstream.
func expandCommand(cmd []string, env []corev1.EnvVar) []string {
	vars := make(map[string]string, len(env))
	for _, e := range env {
		vars[e.Name] = e.Value
	}
	out := make([]string, len(cmd))
	for i, arg := range cmd {
		out[i] = expand(arg, vars)
	}
	return out
}

func expand(in string, vars map[string]string) string {
	var b strings.Builder
	checkpoint := 0
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			continue
		}
		b.WriteString(in[checkpoint:i])
		switch next := in[i+1]; {
		case next == '$':
			b.WriteByte('$')
			i++
		case next == '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 {
				// Unterminated: kept literally.
				b.WriteString("$(")
				i++
				break
			}
			name := in[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(next)
			i++
		}
		checkpoint = i + 1
	}
	return b.String() + in[checkpoint:]
}
