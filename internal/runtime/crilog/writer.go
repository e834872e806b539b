package crilog

import (
	"bytes"
	"io"
	"sync"
	"time"
)

// MaxLineBytes is the longest content one record carries, as containerd's
// CRI plugin (16 KiB): longer lines are split into P parts.
const MaxLineBytes = 16 * 1024

// Stream names as they appear in the file.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Record tags: full (end of a line) and partial.
const (
	tagFull    = "F"
	tagPartial = "P"
)

// NewWriter returns a writer that turns what a container writes on stream
// ("stdout" or "stderr") into CRI log records on w. Each record goes out in
// one Write so that a stdout and a stderr writer can append to the same
// O_APPEND file without interleaving inside a record. Close writes a
// trailing partial line as a P record; it does not close w.
func NewWriter(w io.Writer, stream string) io.WriteCloser {
	return &writer{out: w, stream: stream, now: time.Now}
}

type writer struct {
	mu     sync.Mutex
	out    io.Writer
	stream string
	now    func() time.Time
	// pending is the start of a line whose newline has not come yet.
	pending []byte
	closed  bool
	// record is reused to build each record.
	record []byte
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, io.ErrClosedPipe
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.pending = append(w.pending, p...)
			break
		}
		w.pending = append(w.pending, p[:i]...)
		p = p[i+1:]
		if err := w.emitParts(); err != nil {
			return n - len(p), err
		}
		if err := w.emit(tagFull, w.pending); err != nil {
			return n - len(p), err
		}
		w.pending = w.pending[:0]
	}
	// A line still open but already longer than a record goes out in
	// parts now rather than growing without bound.
	if err := w.emitParts(); err != nil {
		return n, err
	}
	return n, nil
}

// emitParts writes P records for pending while more than a record's worth
// remains, keeping the rest (at most MaxLineBytes) pending.
func (w *writer) emitParts() error {
	off := 0
	for len(w.pending)-off > MaxLineBytes {
		if err := w.emit(tagPartial, w.pending[off:off+MaxLineBytes]); err != nil {
			return err
		}
		off += MaxLineBytes
	}
	if off > 0 {
		w.pending = append(w.pending[:0], w.pending[off:]...)
	}
	return nil
}

func (w *writer) emit(tag string, content []byte) error {
	r := w.now().UTC().AppendFormat(w.record[:0], time.RFC3339Nano)
	r = append(r, ' ')
	r = append(r, w.stream...)
	r = append(r, ' ')
	r = append(r, tag...)
	r = append(r, ' ')
	r = append(r, content...)
	r = append(r, '\n')
	w.record = r
	_, err := w.out.Write(r)
	return err
}

// Close flushes a trailing line that has no newline as a P record, as
// containerd does when the container's stream ends mid-line.
func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(w.pending) == 0 {
		return nil
	}
	err := w.emit(tagPartial, w.pending)
	w.pending = nil
	return err
}
