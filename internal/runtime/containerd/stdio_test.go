package containerd

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/runtime/crilog"
)

// stalledWriter is an attached client that never reads: each Write
// blocks until release is closed.
type stalledWriter struct{ release chan struct{} }

func (w stalledWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, io.ErrClosedPipe
}

// lockedBuffer is a log sink safe to read while copyOut writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), "\n")
}

// TestStalledAttachDoesNotBlockOutput: a client that stops reading is
// detached once it is attachQueue reads behind for attachStall, while the container's
// output keeps flowing into its log and to a client that does read.
func TestStalledAttachDoesNotBlockOutput(t *testing.T) {
	tests := []struct {
		name   string
		stream string
	}{
		{"stdout", crilog.Stdout},
		{"stderr", crilog.Stderr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, wr, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { rd.Close(); wr.Close() })
			tio := &taskIO{attached: map[*attachment]struct{}{}}
			var log lockedBuffer
			copied := make(chan struct{})
			go func() {
				defer close(copied)
				tio.copyOut(rd, crilog.NewWriter(&log, tt.stream), tt.stream)
			}()

			stalled := stalledWriter{release: make(chan struct{})}
			t.Cleanup(func() { close(stalled.release) })
			slow := newAttachment(stalled, stalled)
			detachSlow := tio.attach(slow)
			defer detachSlow()
			var live lockedBuffer
			reader := newAttachment(&live, &live)
			detachLive := tio.attach(reader)

			// Far more than the queue holds, one line per write as a
			// container logs; the writes must never block on the
			// stalled client.
			const lines = 4 * attachQueue
			line := strings.Repeat("x", copyBufSize-1) + "\n"
			wrote := make(chan error, 1)
			go func() {
				for range lines {
					if _, err := wr.WriteString(line); err != nil {
						wrote <- err
						return
					}
				}
				wrote <- wr.Close()
			}()
			select {
			case err := <-wrote:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the container's output blocked behind a stalled attached client")
			}
			select {
			case <-copied:
			case <-time.After(30 * time.Second):
				t.Fatal("copyOut did not finish")
			}
			if got := log.lines(); got < lines {
				t.Errorf("log has %d lines, want at least %d", got, lines)
			}
			select {
			case <-slow.dropped:
			default:
				t.Error("the stalled client is still attached")
			}
			detachLive()
			select {
			case <-reader.written:
			case <-time.After(30 * time.Second):
				t.Fatal("the reading client's queue never drained")
			}
			select {
			case <-reader.dropped:
				t.Error("the reading client was detached too")
			default:
				if got, want := live.buf.Len(), lines*len(line); got != want {
					t.Errorf("reading client got %d bytes, want %d", got, want)
				}
			}
		})
	}
}

// TestStalledAttachContainer attaches a client that never reads to a
// real container writing about 1 MB/s: the client is detached (Attach
// ends with an error) and the container's log keeps growing.
func TestStalledAttachContainer(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	sbID, sb := e.sandbox(t, "stalled")
	id := e.container(t, sbID, sb, "chatty", runtime.ContainerConfig{Command: []string{"sh", "-c",
		"s=$(printf '%01023d' 0); while true; do for j in 1 2 3 4 5 6 7 8 9 10; do echo $s; done; sleep 0.01; done"}})
	if err := e.rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := e.rt.ContainerStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	logSize := func() int64 {
		fi, err := os.Stat(st.LogPath)
		if err != nil {
			return 0
		}
		return fi.Size()
	}

	stalled := stalledWriter{release: make(chan struct{})}
	t.Cleanup(func() { close(stalled.release) })
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	attached := make(chan error, 1)
	go func() { attached <- e.rt.Attach(actx, id, runtime.Streams{Stdout: stalled, Stderr: stalled}) }()
	select {
	case err := <-attached:
		if err == nil || actx.Err() != nil {
			t.Fatalf("Attach ended with %v, want the stalled client detached", err)
		}
		t.Logf("Attach: %v", err)
	case <-actx.Done():
		t.Fatal("the stalled client was never detached")
	}
	after := logSize()
	// More than the pipe's 64 KiB: the container is not blocked.
	eventually(t, "the log to keep growing", 10*time.Second, func() bool { return logSize() > after+256<<10 })
}
