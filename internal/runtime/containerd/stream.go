package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/vishvananda/netns"

	"mini.dev/mini/internal/runtime"
)

// maxExecOutput caps what ExecSync keeps of each stream, as kubelet caps
// probe output.
const maxExecOutput = 16 << 20

// ExecSync implements runtime.Streamer.
func (r *Runtime) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtime.ExecResult, error) {
	var stdout, stderr capped
	stdout.max, stderr.max = maxExecOutput, maxExecOutput
	ectx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ectx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	code, err := r.exec(ectx, containerID, cmd, runtime.Streams{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		if ctx.Err() == nil && ectx.Err() != nil {
			return nil, fmt.Errorf("containerd: command %q timed out after %s: %w", cmd, timeout, runtime.ErrTimeout)
		}
		return nil, err
	}
	return &runtime.ExecResult{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: code}, nil
}

// Exec implements runtime.Streamer.
func (r *Runtime) Exec(ctx context.Context, containerID string, cmd []string, s runtime.Streams) (int32, error) {
	return r.exec(ctx, containerID, cmd, s)
}

// exec runs cmd in the container with its main process's spec (user,
// env, cwd, capabilities); when ctx ends first the process is killed.
func (r *Runtime) exec(ctx context.Context, containerID string, cmd []string, s runtime.Streams) (int32, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return 0, err
	}
	if len(cmd) == 0 {
		return 0, errors.New("containerd: exec: empty command")
	}
	if _, err := r.containerRecord(ctx, containerID); err != nil {
		return 0, err
	}
	bg := context.WithoutCancel(nctx)
	c, err := client.LoadContainer(bg, containerID)
	if err != nil {
		return 0, fmt.Errorf("containerd: container %s: %w", containerID, err)
	}
	task, err := c.Task(bg, nil)
	if err != nil {
		return 0, fmt.Errorf("containerd: container %s is not running: %w", containerID, runtime.ErrInvalidState)
	}
	spec, err := c.Spec(bg)
	if err != nil {
		return 0, fmt.Errorf("containerd: spec of %s: %w", containerID, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = s.TTY
	if s.TTY {
		// As the CRI plugin does: a terminal session gets a TERM.
		pspec.Env = append(slices.Clone(pspec.Env), "TERM=xterm")
	}
	stdout, stderr := s.Stdout, s.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil || s.TTY {
		stderr = io.Discard
	}
	// The shim does not pass the end of our stdin on to the process:
	// once the client's stdin ends, the process's is closed explicitly,
	// as the CRI plugin does (kubectl exec -i with piped input).
	started := make(chan ctrd.Process, 1)
	var stdin io.Reader
	if s.Stdin != nil {
		stdin = &onEOF{r: s.Stdin, fn: func() {
			go func() {
				if p, ok := <-started; ok {
					_ = p.CloseIO(bg, ctrd.WithStdinCloser)
				}
			}()
		}}
	}
	defer close(started)
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr), cio.WithFIFODir(r.fifoDir())}
	if s.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	execID := "exec-" + newID()[:16]
	proc, err := task.Exec(bg, execID, &pspec, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	defer func() { _, _ = proc.Delete(bg, ctrd.WithProcessKill) }()
	exited, err := proc.Wait(bg)
	if err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	if err := proc.Start(bg); err != nil {
		return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
	}
	started <- proc
	for {
		select {
		case st := <-exited:
			// Let the output drain into the streams, within bounds: a
			// background child may hold them open.
			drained := make(chan struct{})
			go func() { proc.IO().Wait(); close(drained) }()
			t := time.NewTimer(drainTimeout)
			select {
			case <-drained:
			case <-t.C:
			}
			t.Stop()
			code, _, err := st.Result()
			if err != nil {
				return 0, fmt.Errorf("containerd: exec in %s: %w", containerID, err)
			}
			return int32(code), nil
		case size, ok := <-s.Resize:
			if !ok {
				s.Resize = nil
				continue
			}
			_ = proc.Resize(bg, uint32(size.Width), uint32(size.Height))
		case <-ctx.Done():
			_ = proc.Kill(bg, syscall.SIGKILL)
			<-exited
			return 0, ctx.Err()
		}
	}
}

// onEOF calls fn once when r is at its end.
type onEOF struct {
	r    io.Reader
	fn   func()
	once sync.Once
}

func (o *onEOF) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err != nil {
		o.once.Do(o.fn)
	}
	return n, err
}

// Attach implements runtime.Streamer: the client sees the main process's
// output from now on and, if the container has stdin, writes to it.
func (r *Runtime) Attach(ctx context.Context, containerID string, s runtime.Streams) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	rec, err := r.containerRecord(ctx, containerID)
	if err != nil {
		return err
	}
	r.mu.Lock()
	tio := r.ios[containerID]
	r.mu.Unlock()
	if tio == nil {
		return fmt.Errorf("containerd: container %s is not running: %w", containerID, runtime.ErrInvalidState)
	}
	att := newAttachment(s.Stdout, s.Stderr)
	detach := tio.attach(att)
	defer func() {
		detach()
		// The output read before the end still reaches the client,
		// within bounds: a stalled one is not waited for.
		t := time.NewTimer(drainTimeout)
		defer t.Stop()
		select {
		case <-att.written:
		case <-att.dropped:
		case <-ctx.Done():
		case <-t.C:
		}
	}()
	stdinDone := make(chan struct{})
	if s.Stdin != nil && rec.Labels[labelStdin] == "true" {
		go func() {
			defer close(stdinDone)
			tio.mu.Lock()
			w := tio.stdin
			tio.mu.Unlock()
			if w != nil {
				_, _ = io.Copy(w, s.Stdin)
			}
			if tio.stdinOnce {
				tio.closeStdin()
			}
		}()
	}
	var task ctrd.Task
	if s.TTY && s.Resize != nil {
		if c, err := client.LoadContainer(nctx, containerID); err == nil {
			task, _ = c.Task(nctx, nil)
		}
	}
	for {
		select {
		case <-tio.drained:
			return nil
		case <-ctx.Done():
			return nil
		case <-att.dropped:
			return fmt.Errorf("containerd: attach to %s: the client fell more than %d KiB behind the container's output and was detached",
				containerID, attachQueue*copyBufSize>>10)
		case <-stdinDone:
			stdinDone = nil
			if tio.stdinOnce {
				// kubectl attach -i to a StdinOnce container ends with
				// its stdin; the container sees EOF.
				return nil
			}
		case size, ok := <-s.Resize:
			if !ok {
				s.Resize = nil
				continue
			}
			if task != nil {
				_ = task.Resize(nctx, uint32(size.Width), uint32(size.Height))
			}
		}
	}
}

// PortForward implements runtime.Streamer: it dials 127.0.0.1:port inside
// the sandbox's network namespace and copies both ways.
func (r *Runtime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	rec, err := r.sandboxRecord(ctx, sandboxID)
	if err != nil {
		return err
	}
	conn, err := dialInNetNS(ctx, rec.Labels[labelNetNS], net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return fmt.Errorf("containerd: port-forward to %d in sandbox %s: %w", port, sandboxID, err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(stream, conn)
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	_ = conn.Close()
	_ = stream.Close()
	wg.Wait()
	return nil
}

// dialInNetNS dials from inside the network namespace at path ("" is the
// host's). The socket keeps its namespace once made, so only the dial
// runs on a thread switched into the namespace.
func dialInNetNS(ctx context.Context, path, addr string) (net.Conn, error) {
	var d net.Dialer
	if path == "" {
		return d.DialContext(ctx, "tcp", addr)
	}
	target, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	goruntime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		goruntime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		goruntime.UnlockOSThread()
		return nil, err
	}
	conn, dialErr := d.DialContext(ctx, "tcp", addr)
	if err := netns.Set(orig); err != nil {
		// The thread stays in the pod's namespace: leave it locked so
		// that Go retires it with this goroutine.
		if conn != nil {
			conn.Close()
		}
		return nil, err
	}
	goruntime.UnlockOSThread()
	return conn, dialErr
}

// capped is a buffer that keeps at most max bytes.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
