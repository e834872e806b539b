package endpoint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"mini.dev/mini/internal/runtime"
)

// errNoStreaming answers stream requests on a node whose runtime runs no
// processes (sim).
var errNoStreaming = errors.New("streaming is not supported by this node's container runtime")

// serveExec is kubelet's /exec: the container is looked up before the
// upgrade so that a missing one is a plain HTTP error, then
// remotecommand.ServeExec speaks SPDY or WebSocket. The {uid} form
// answers 404 when the pod by that name has another UID (a pod deleted
// and made again under the same name).
func (e *Endpoint) serveExec(w http.ResponseWriter, r *http.Request) {
	ref, opts, ok := e.streamTarget(w, r)
	if !ok {
		return
	}
	cmd := r.URL.Query()["command"]
	if len(cmd) == 0 {
		http.Error(w, "you must specify a command", http.StatusBadRequest)
		return
	}
	remotecommand.ServeExec(w, r, containerStreams{e.cfg.Streams, ref.ID}, r.PathValue("pod"), r.PathValue("uid"),
		r.PathValue("container"), cmd, opts, streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

// serveAttach is kubelet's /attach.
func (e *Endpoint) serveAttach(w http.ResponseWriter, r *http.Request) {
	ref, opts, ok := e.streamTarget(w, r)
	if !ok {
		return
	}
	remotecommand.ServeAttach(w, r, containerStreams{e.cfg.Streams, ref.ID}, r.PathValue("pod"), r.PathValue("uid"),
		r.PathValue("container"), opts, streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

func (e *Endpoint) streamTarget(w http.ResponseWriter, r *http.Request) (ContainerRef, *remotecommand.Options, bool) {
	if e.cfg.Streams == nil {
		http.Error(w, errNoStreaming.Error(), http.StatusBadRequest)
		return ContainerRef{}, nil, false
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return ContainerRef{}, nil, false
	}
	ref, err := e.cfg.Pods.Container(r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), false)
	if err != nil {
		writePodsError(w, err)
		return ContainerRef{}, nil, false
	}
	if uid := r.PathValue("uid"); uid != "" && ref.PodUID != "" && uid != ref.PodUID {
		http.Error(w, fmt.Sprintf("pod %q with UID %q not found", r.PathValue("ns")+"/"+r.PathValue("pod"), uid), http.StatusNotFound)
		return ContainerRef{}, nil, false
	}
	if !ref.Running {
		http.Error(w, fmt.Sprintf("container %q in pod %q is not running", r.PathValue("container"), r.PathValue("pod")), http.StatusBadRequest)
		return ContainerRef{}, nil, false
	}
	return ref, opts, true
}

// servePortForward is kubelet's /portForward.
func (e *Endpoint) servePortForward(w http.ResponseWriter, r *http.Request) {
	if e.cfg.Streams == nil {
		http.Error(w, errNoStreaming.Error(), http.StatusBadRequest)
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sandbox, err := e.cfg.Pods.Sandbox(r.PathValue("ns"), r.PathValue("pod"))
	if err != nil {
		writePodsError(w, err)
		return
	}
	portforward.ServePortForward(w, r, sandboxStreams{e.cfg.Streams, sandbox}, r.PathValue("pod"), r.PathValue("uid"),
		opts, streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

// containerStreams adapts runtime.Streamer to cri-streaming's Executor and
// Attacher for one container.
type containerStreams struct {
	s  runtime.Streamer
	id string
}

func (c containerStreams) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	code, err := c.s.Exec(ctx, c.id, cmd, streams(ctx, in, out, errOut, tty, resize))
	if err != nil {
		return err
	}
	if code != 0 {
		// ServeExec reports an exited process's code to the client
		// (kubectl exits with it).
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: int(code)}
	}
	return nil
}

func (c containerStreams) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	return c.s.Attach(ctx, c.id, streams(ctx, in, out, errOut, tty, resize))
}

func streams(ctx context.Context, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) runtime.Streams {
	s := runtime.Streams{Stdin: in, TTY: tty}
	// Leave unconnected streams as nil interfaces, not typed nils.
	if out != nil {
		s.Stdout = out
	}
	if errOut != nil {
		s.Stderr = errOut
	}
	if resize != nil {
		sizes := make(chan runtime.TerminalSize)
		go func() {
			defer close(sizes)
			for {
				select {
				case <-ctx.Done():
					return
				case sz, ok := <-resize:
					if !ok {
						return
					}
					select {
					case sizes <- runtime.TerminalSize{Width: sz.Width, Height: sz.Height}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
		s.Resize = sizes
	}
	return s
}

// sandboxStreams adapts runtime.Streamer to cri-streaming's PortForwarder
// for one sandbox.
type sandboxStreams struct {
	s  runtime.Streamer
	id string
}

func (p sandboxStreams) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	return p.s.PortForward(ctx, p.id, port, stream)
}
