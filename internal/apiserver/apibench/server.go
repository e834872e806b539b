package main

import (
	"context"
	"os"
	"time"

	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/benchutil"
)

// server is the mini server under test: the API alone, in its own
// process group, on a temporary dir removed when it stops.
type server struct {
	*benchutil.Server
	host    string
	config  *rest.Config
	readyIn time.Duration
}

func startServer(ctx context.Context, bin, workdir string) (*server, error) {
	dir, err := os.MkdirTemp(workdir, "apibench-")
	if err != nil {
		return nil, err
	}
	s, err := benchutil.StartServer(ctx, benchutil.ServerOptions{Bin: bin, Dir: dir,
		Flags: []string{"--disable-scheduler", "--disable-controller-manager"}}) // the API alone
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &server{Server: s, host: s.Config.Host, config: s.Config, readyIn: s.ReadyIn}, nil
}

// stop kills the server's process group and removes its data.
func (s *server) stop() {
	s.Kill()
	os.RemoveAll(s.Dir)
}

// memory is the server's resident memory: all of it and its private part.
type memory struct{ rss, anon int64 }

func (s *server) rss() memory {
	m := s.Memory()
	return memory{rss: m.RSS, anon: m.Anon}
}
