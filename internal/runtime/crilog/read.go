package crilog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReadOptions are kubelet's container log options (corev1.PodLogOptions
// as the agent receives them).
type ReadOptions struct {
	// Follow keeps reading as the file grows.
	Follow bool
	// TailLines is how many of the last lines to start from; <0: all.
	TailLines int64
	// LimitBytes stops the output after that many bytes; 0: no limit.
	LimitBytes int64
	// Since skips records older than this (zero: none).
	Since time.Time
	// Timestamps prefixes each line with its time, as kubelet prints it.
	Timestamps bool
	// Stream selects "stdout" or "stderr"; "": both.
	Stream string
	// Running, when following, says whether the container still runs:
	// once it returns false the reader drains the file and stops.
	// nil: follow until ctx ends.
	Running func() bool
}

// timeFormatOut is how kubelet prints timestamps: RFC3339 with nanoseconds
// always nine digits, so that they line up.
const timeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"

// pollInterval bounds how long a follower waits before looking again at
// the file, the context and whether the container still runs, even when
// no change notification arrives.
const pollInterval = 100 * time.Millisecond

// errLimitReached ends reading once LimitBytes have been written.
var errLimitReached = errors.New("crilog: byte limit reached")

// ReadLogs writes the container log at path to stdout and stderr as
// kubelet's pkg/kubelet/kuberuntime/logs does: P parts are joined into
// their line, records that fail to parse are skipped. With Follow it
// returns when ctx ends (ctx.Err()) or when Running reports the
// container stopped and the file is drained (nil).
func ReadLogs(ctx context.Context, path string, opts ReadOptions, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open log file %q: %w", path, err)
	}
	defer func() { f.Close() }()
	if opts.TailLines >= 0 {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		start, err := tailStart(f, fi.Size(), opts.TailLines)
		if err != nil {
			return fmt.Errorf("failed to tail %d lines of log file %q: %w", opts.TailLines, path, err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	out := &output{opts: opts, stdout: stdout, stderr: stderr, remaining: opts.LimitBytes, lineStart: true}
	r := bufio.NewReader(f)
	var (
		partial   []byte // a record read up to EOF without its newline
		w         *watcher
		stopAtEOF bool
	)
	defer func() { w.close() }()
	for {
		line, err := r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("failed to read log file %q: %w", path, err)
		}
		if err == nil {
			if len(partial) > 0 {
				line = append(partial, line...)
				partial = nil
			}
			if err := out.write(line); err != nil {
				return ignoreLimit(err)
			}
			continue
		}
		// EOF: line is the start of a record still being written (or
		// the file's last line lacks its newline).
		partial = append(partial, line...)
		if !opts.Follow || stopAtEOF {
			if len(partial) > 0 {
				return ignoreLimit(out.write(partial))
			}
			return nil
		}
		if opts.Running != nil && !opts.Running() {
			// What the container wrote before it stopped may have
			// landed after this EOF: read once more, then stop.
			stopAtEOF = true
			continue
		}
		if w == nil {
			w = newWatcher(path)
		}
		if err := w.wait(ctx); err != nil {
			return err
		}
		if nf, ok := reopenIfRotated(path, f); ok {
			// The old file was read to its end above; go on with the
			// new one from its start.
			f.Close()
			f = nf
			r.Reset(f)
			w.close()
			w = nil
		}
	}
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

// reopenIfRotated opens path again if it names a different file than f now
// (the log was rotated). It keeps f when path is missing: the file may be
// about to come back, and what f holds is still readable.
func reopenIfRotated(path string, f *os.File) (*os.File, bool) {
	cur, err := os.Stat(path)
	if err != nil {
		return nil, false
	}
	old, err := f.Stat()
	if err != nil || os.SameFile(cur, old) {
		return nil, false
	}
	nf, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	return nf, true
}

// output filters and writes records as kubelet's logWriter does.
type output struct {
	opts           ReadOptions
	stdout, stderr io.Writer
	remaining      int64 // bytes left when LimitBytes > 0
	// lineStart is whether the next content begins a line (and so gets
	// the timestamp prefix); P parts continue the line they started.
	lineStart bool
}

func (o *output) write(line []byte) error {
	rec, err := parseRecord(line)
	if err != nil {
		return nil // as kubelet: a corrupt record is skipped
	}
	if o.opts.Stream != "" && rec.stream != o.opts.Stream {
		return nil
	}
	if !o.opts.Since.IsZero() && rec.timestamp.Before(o.opts.Since) {
		return nil
	}
	w := o.stdout
	if rec.stream == Stderr {
		w = o.stderr
	}
	if w == nil {
		return nil
	}
	b := rec.content
	if o.opts.Timestamps && o.lineStart {
		b = append([]byte(rec.timestamp.Format(timeFormatOut)+" "), b...)
	}
	o.lineStart = len(rec.content) > 0 && rec.content[len(rec.content)-1] == '\n'
	limited := false
	if o.opts.LimitBytes > 0 {
		if int64(len(b)) >= o.remaining {
			b = b[:o.remaining]
			limited = true
		}
		o.remaining -= int64(len(b))
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if limited {
		return errLimitReached
	}
	return nil
}
