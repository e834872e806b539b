package containerd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/cio"
	"github.com/containerd/fifo"

	"mini.dev/mini/internal/runtime/crilog"
)

// drainTimeout bounds how long an exit waits for the container's output
// to reach its log: a background child that inherited stdout keeps the
// FIFO open after the main process ended.
const drainTimeout = 2 * time.Second

// taskIO is a running container's stdio: FIFOs the shim writes (and
// keeps open, so a restarted agent can read on), copied into the CRI log
// file and to attached clients, and the stdin FIFO fed by attach.
type taskIO struct {
	cfg       cio.Config
	cancel    context.CancelFunc // aborts FIFO opens still pending
	stdin     io.WriteCloser     // nil without stdin
	stdinOnce bool
	drained   chan struct{} // closed once stdout and stderr reached EOF
	// logMu makes each log write, timestamping included, one step across
	// stdout and stderr: the log's lines are in time order.
	logMu sync.Mutex

	mu       sync.Mutex
	attached map[*attachment]struct{}
	closers  []io.Closer
	closed   bool
}

// copyBufSize is the read size of a container's output copier.
const copyBufSize = 4 << 10

// attachQueue bounds what one attached client may fall behind by, in
// reads of the container's output (at most copyBufSize each): 64 is
// 256 KiB.
// A client further behind for attachStall is detached, so that a
// stalled kubectl attach never blocks the container's output or its log
// for longer.
const attachQueue = 64

// attachStall is how long a client with a full queue may take to make
// room before it is detached; the container's output waits that long
// once.
const attachStall = 500 * time.Millisecond

// attachment is one attached client's output, written from its own
// queue by its own goroutine (run).
type attachment struct {
	stdout, stderr io.Writer
	queue          chan outChunk
	dropped        chan struct{} // closed when the client fell too far behind
	written        chan struct{} // closed once run has ended
}

// outChunk is one read of a container's output, copied, shared by every
// attachment it is queued to (read-only).
type outChunk struct {
	stderr bool
	p      []byte
}

func newAttachment(stdout, stderr io.Writer) *attachment {
	return &attachment{
		stdout:  stdout,
		stderr:  stderr,
		queue:   make(chan outChunk, attachQueue),
		dropped: make(chan struct{}),
		written: make(chan struct{}),
	}
}

// run writes the queue to the client until the queue is closed. After a
// failed write it only drains: the client is gone and its session ends.
func (a *attachment) run() {
	defer close(a.written)
	failed := false
	for c := range a.queue {
		w := a.stdout
		if c.stderr {
			w = a.stderr
		}
		if failed || w == nil {
			continue
		}
		if _, err := w.Write(c.p); err != nil {
			failed = true
		}
	}
}

// fifoPaths are a container's FIFOs.
func (r *Runtime) fifoPaths(id string) (stdin, stdout, stderr string) {
	base := filepath.Join(r.fifoDir(), id)
	return base + "-stdin", base + "-stdout", base + "-stderr"
}

func (r *Runtime) removeFIFOs(id string) {
	in, out, errp := r.fifoPaths(id)
	for _, p := range []string{in, out, errp} {
		_ = os.Remove(p)
	}
}

// openIO makes (or, after a restart, reopens) a container's FIFOs, starts
// copying its output to its log and registers it. Opening is lazy: the
// FIFOs connect when the shim opens its ends.
func (r *Runtime) openIO(id string, labels map[string]string) (*taskIO, error) {
	if err := os.MkdirAll(r.fifoDir(), 0o700); err != nil {
		return nil, fmt.Errorf("containerd: fifo directory: %w", err)
	}
	tty := labels[labelTTY] == "true"
	inPath, outPath, errPath := r.fifoPaths(id)
	ctx, cancel := context.WithCancel(context.Background())
	t := &taskIO{
		cfg:       cio.Config{Terminal: tty, Stdout: outPath},
		cancel:    cancel,
		stdinOnce: labels[labelStdinOnce] == "true",
		drained:   make(chan struct{}),
		attached:  map[*attachment]struct{}{},
	}
	fail := func(err error) (*taskIO, error) {
		t.close()
		return nil, fmt.Errorf("containerd: stdio of %s: %w", id, err)
	}
	var out io.Writer = io.Discard
	if p := labels[labelLogPath]; p != "" {
		f, err := openRotatingLog(p)
		if err != nil {
			return fail(err)
		}
		out = f
		t.closers = append(t.closers, f)
	}
	if labels[labelStdin] == "true" {
		w, err := fifo.OpenFifo(ctx, inPath, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
		if err != nil {
			return fail(err)
		}
		t.cfg.Stdin, t.stdin = inPath, w
		t.closers = append(t.closers, w)
	}
	streams := []struct{ path, name string }{{outPath, crilog.Stdout}}
	if !tty {
		t.cfg.Stderr = errPath
		streams = append(streams, struct{ path, name string }{errPath, crilog.Stderr})
	}
	var wg sync.WaitGroup
	for _, s := range streams {
		rd, err := fifo.OpenFifo(ctx, s.path, syscall.O_RDONLY|syscall.O_CREAT|syscall.O_NONBLOCK, 0o700)
		if err != nil {
			return fail(err)
		}
		t.closers = append(t.closers, rd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.copyOut(rd, crilog.NewWriter(out, s.name), s.name)
		}()
	}
	go func() {
		wg.Wait()
		close(t.drained)
	}()
	r.mu.Lock()
	r.ios[id] = t
	r.mu.Unlock()
	return t, nil
}

// copyOut copies one output stream to the log and to attached clients
// until the shim closes it.
func (t *taskIO) copyOut(src io.Reader, log io.WriteCloser, stream string) {
	defer func() {
		t.logMu.Lock()
		defer t.logMu.Unlock()
		_ = log.Close()
	}()
	// Small: two of these live per running container, and a read from a
	// pipe returns what is there, not a full buffer.
	buf := make([]byte, copyBufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			t.logMu.Lock()
			_, _ = log.Write(buf[:n])
			t.logMu.Unlock()
			t.fanOut(stream, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// fanOut queues a copy of p to every attached client. A client whose
// queue is full gets attachStall to take from it (a burst paces the
// container, as a slow reader of a pipe does) and is detached after
// that (its dropped closes): the output and the log go on without it.
func (t *taskIO) fanOut(stream string, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.attached) == 0 {
		return
	}
	c := outChunk{stderr: stream == crilog.Stderr, p: bytes.Clone(p)}
	var full []*attachment
	for a := range t.attached {
		select {
		case a.queue <- c:
		default:
			full = append(full, a)
		}
	}
	if len(full) == 0 {
		return
	}
	timer := time.NewTimer(attachStall)
	defer timer.Stop()
	expired := false
	for _, a := range full {
		if !expired {
			select {
			case a.queue <- c:
				continue
			case <-timer.C:
				expired = true
			}
		}
		t.removeLocked(a)
		close(a.dropped)
	}
}

// attach adds a client's outputs and starts writing to them; the
// returned func removes them (what is queued is still written).
func (t *taskIO) attach(a *attachment) func() {
	t.mu.Lock()
	t.attached[a] = struct{}{}
	t.mu.Unlock()
	go a.run()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.removeLocked(a)
	}
}

// removeLocked detaches a, once; fanOut sends only under t.mu to
// attachments still in the set, so closing the queue here is safe.
func (t *taskIO) removeLocked(a *attachment) {
	if _, ok := t.attached[a]; ok {
		delete(t.attached, a)
		close(a.queue)
	}
}

// closeStdin ends the container's stdin (StdinOnce after the first
// attach).
func (t *taskIO) closeStdin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stdin != nil {
		_ = t.stdin.Close()
		t.stdin = nil
	}
}

func (t *taskIO) waitDrained(timeout time.Duration) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-t.drained:
	case <-timer.C:
	}
}

// close releases this process's ends of the FIFOs.
func (t *taskIO) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	t.cancel()
	for _, c := range t.closers {
		_ = c.Close()
	}
}

// closeIOs closes every copier as Run ends.
func (r *Runtime) closeIOs() {
	r.mu.Lock()
	ios := r.ios
	r.ios = map[string]*taskIO{}
	r.mu.Unlock()
	for _, t := range ios {
		t.close()
	}
}

// io returns the cio.IO containerd's client hands to the shim: the FIFO
// paths only, since this process copies the data itself.
func (t *taskIO) io() cio.IO { return fifoIO{t.cfg} }

type fifoIO struct{ cfg cio.Config }

func (f fifoIO) Config() cio.Config { return f.cfg }
func (fifoIO) Cancel()              {}
func (fifoIO) Wait()                {}
func (fifoIO) Close() error         { return nil }
