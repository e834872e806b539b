package main

import (
	"context"
	"os"
	"time"

	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/benchutil"
)

// server is a mini server under test (--disable-agent), on a data dir
// that outlives it (so that it can be restarted).
type server struct {
	*benchutil.Server
	client kubernetes.Interface
	// started is when the process was started.
	started time.Time
}

// newDataDir makes a temporary directory for one server's data.
func newDataDir(workdir string) (string, error) {
	return os.MkdirTemp(workdir, "clusterbench-")
}

// startServer runs `mini server` on dir with extra flags and waits until
// its kubeconfig is written.
func startServer(ctx context.Context, bin, dir string, flags ...string) (*server, error) {
	s, err := benchutil.StartServer(ctx, benchutil.ServerOptions{Bin: bin, Dir: dir, Flags: flags})
	if err != nil {
		return nil, err
	}
	return &server{Server: s, client: s.Client, started: s.Started}, nil
}

// stop ends the server gracefully (SIGTERM), as `mini stop` will.
func (s *server) stop() error { return s.Stop(30 * time.Second) }

// kill kills the server's process group.
func (s *server) kill() { s.Kill() }

// rss is the server's resident memory in bytes.
func (s *server) rss() int64 { return s.Memory().RSS }
