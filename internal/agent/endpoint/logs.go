package endpoint

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"mini.dev/mini/internal/runtime/crilog"
)

// serveLogs is kubelet's GET /containerLogs/{ns}/{pod}/{container}: the
// container's log file read with the PodLogOptions in the query.
func (e *Endpoint) serveLogs(w http.ResponseWriter, r *http.Request) {
	ns, pod, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	q := r.URL.Query()
	opts, previous, err := logOptions(q.Get, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	ref, err := e.cfg.Pods.Container(ns, pod, container, previous)
	if err != nil {
		writePodsError(w, err)
		return
	}
	if opts.Follow {
		// Follow until the same container instance stops running.
		opts.Running = func() bool {
			if ref.StillRunning != nil {
				return ref.StillRunning(r.Context())
			}
			cur, err := e.cfg.Pods.Container(ns, pod, container, previous)
			return err == nil && cur.ID == ref.ID && cur.Running
		}
		if !ref.Running {
			opts.Follow = false
		}
	}
	w.Header().Set("Content-Type", "text/plain")
	out := &flushWriter{w: w, f: http.NewResponseController(w)}
	if err := crilog.ReadLogs(r.Context(), ref.LogPath, opts, out, out); err != nil && r.Context().Err() == nil {
		if out.wrote {
			// Too late for a status code: end the stream.
			e.log.Warn("reading container log", "pod", ns+"/"+pod, "container", container, "err", err)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// logOptions parses kubelet's log query (corev1.PodLogOptions as query
// parameters) into crilog options and whether the previous instance is
// wanted.
func logOptions(get func(string) string, now time.Time) (crilog.ReadOptions, bool, error) {
	opts := crilog.ReadOptions{TailLines: -1}
	var previous bool
	var err error
	boolParam := func(name string, dst *bool) {
		if v := get(name); v != "" && err == nil {
			*dst, err = strconv.ParseBool(v)
			if err != nil {
				err = fmt.Errorf("invalid %s %q: %w", name, v, err)
			}
		}
	}
	intParam := func(name string, dst *int64) {
		if v := get(name); v != "" && err == nil {
			*dst, err = strconv.ParseInt(v, 10, 64)
			if err != nil {
				err = fmt.Errorf("invalid %s %q: %w", name, v, err)
			}
		}
	}
	boolParam("follow", &opts.Follow)
	boolParam("previous", &previous)
	boolParam("timestamps", &opts.Timestamps)
	intParam("tailLines", &opts.TailLines)
	intParam("limitBytes", &opts.LimitBytes)
	var sinceSeconds int64
	intParam("sinceSeconds", &sinceSeconds)
	if err != nil {
		return opts, false, err
	}
	switch {
	case get("tailLines") != "" && opts.TailLines < 0:
		return opts, false, errors.New("tailLines: must be greater than or equal to 0")
	case get("limitBytes") != "" && opts.LimitBytes < 1:
		return opts, false, errors.New("limitBytes: must be greater than 0")
	case get("sinceSeconds") != "" && sinceSeconds < 1:
		return opts, false, errors.New("sinceSeconds: must be greater than 0")
	case get("sinceSeconds") != "" && get("sinceTime") != "":
		return opts, false, errors.New("at most one of sinceTime or sinceSeconds may be specified")
	}
	if sinceSeconds > 0 {
		opts.Since = now.Add(-time.Duration(sinceSeconds) * time.Second)
	}
	if v := get("sinceTime"); v != "" {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			return opts, false, fmt.Errorf("invalid sinceTime %q: %w", v, perr)
		}
		opts.Since = t
	}
	switch v := get("stream"); v {
	case "", "All":
	case "Stdout":
		opts.Stream = crilog.Stdout
	case "Stderr":
		opts.Stream = crilog.Stderr
	default:
		return opts, false, fmt.Errorf("stream: unsupported value %q", v)
	}
	if opts.Stream != "" && get("tailLines") != "" {
		return opts, false, errors.New("tailLines and specific stream are mutually exclusive for now")
	}
	return opts, previous, nil
}

// flushWriter sends each write to the client at once (follow), one write
// at a time since stdout and stderr share it.
type flushWriter struct {
	mu    sync.Mutex
	w     io.Writer
	f     *http.ResponseController
	wrote bool
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.wrote = true
	n, err := fw.w.Write(p)
	if err != nil {
		return n, err
	}
	return n, fw.f.Flush()
}

// writePodsError answers with an error from Pods as kubelet would.
func writePodsError(w http.ResponseWriter, err error) {
	code := http.StatusBadRequest
	if errors.Is(err, ErrNotFound) {
		code = http.StatusNotFound
	}
	http.Error(w, err.Error(), code)
}
