package endpoint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"mini.dev/mini/internal/runtime"
)

// Pods tells the endpoint which runtime objects a pod's names refer to.
// The agent implements it; its errors reach the caller as kubelet's do
// (wrap ErrNotFound for 404, anything else is a 400).
type Pods interface {
	// Container returns the named container of the pod: its current
	// instance, or with previous the one before (kubelet's
	// --previous).
	Container(namespace, pod, container string, previous bool) (ContainerRef, error)
	// Sandbox returns the ID of the pod's running sandbox.
	Sandbox(namespace, pod string) (sandboxID string, err error)
}

// ContainerRef is a container instance as the runtime knows it.
type ContainerRef struct {
	ID, LogPath string
	Running     bool
	// PodUID is the UID of the pod it belongs to: a path naming another
	// one (the {uid} forms of exec and attach) is answered 404, as for a
	// pod that is not there. Empty is not checked.
	PodUID string
	// StillRunning, when set, tells cheaply whether this same instance
	// still runs (kubectl logs -f asks at each end of the log); nil asks
	// Container again.
	StillRunning func(ctx context.Context) bool
}

// ErrNotFound, wrapped in an error from Pods, makes the endpoint answer 404
// Not Found (kubelet's answer for a pod or container it does not know).
var ErrNotFound = errors.New("not found")

// Config configures an Endpoint.
type Config struct {
	// Addr is the listen address, e.g. ":10250"; port 0 picks one (see
	// Port).
	Addr string
	// CertPEM and KeyPEM are the node's serving certificate and key.
	CertPEM, KeyPEM []byte
	// ClientCAs verifies callers' client certificates (required).
	ClientCAs *x509.CertPool
	Pods      Pods
	// Streams runs exec, attach and port-forward; nil refuses them (the
	// sim runtime).
	Streams runtime.Streamer
	Logger  *slog.Logger
}

// Endpoint is the agent's kubelet API server.
type Endpoint struct {
	cfg   Config
	tls   *tls.Config
	log   *slog.Logger
	ready chan struct{}
	port  atomic.Int32
}

// Timeouts of streaming sessions, kubelet's defaults: a session with no
// traffic for streamIdleTimeout ends (--streaming-connection-idle-timeout),
// and a client has streamCreationTimeout to open its streams.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

// New checks cfg and builds the endpoint; it does not listen yet.
func New(cfg Config) (*Endpoint, error) {
	if cfg.Pods == nil {
		return nil, errors.New("endpoint: Config.Pods is required")
	}
	if cfg.ClientCAs == nil {
		return nil, errors.New("endpoint: Config.ClientCAs is required")
	}
	cert, err := tls.X509KeyPair(cfg.CertPEM, cfg.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("endpoint: serving certificate: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Endpoint{
		cfg: cfg,
		tls: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    cfg.ClientCAs,
			MinVersion:   tls.VersionTLS12,
			// HTTP/1.1 only: SPDY and WebSocket upgrades need it.
			NextProtos: []string{"http/1.1"},
		},
		log:   log.With("component", "kubelet-endpoint"),
		ready: make(chan struct{}),
	}, nil
}

// Ready is closed once the endpoint listens.
func (e *Endpoint) Ready() <-chan struct{} { return e.ready }

// Port is the port the endpoint listens on, once Ready.
func (e *Endpoint) Port() int { return int(e.port.Load()) }

// Run serves until ctx ends. Streaming sessions see ctx through their
// request context, so they end with it too.
func (e *Endpoint) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	e.port.Store(int32(ln.Addr().(*net.TCPAddr).Port))
	srv := &http.Server{
		Handler:           e.Handler(),
		TLSConfig:         e.tls,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	close(e.ready)
	e.log.Info("serving kubelet API", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("endpoint: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// Handler is the endpoint's HTTP API behind the caller check; it expects
// TLS with verified client certificates (Run provides it).
func (e *Endpoint) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok"))
	})
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", e.serveLogs)
	for _, p := range []string{"/exec/{ns}/{pod}/{container}", "/exec/{ns}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, e.serveExec)
		mux.HandleFunc("POST "+p, e.serveExec)
	}
	for _, p := range []string{"/attach/{ns}/{pod}/{container}", "/attach/{ns}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, e.serveAttach)
		mux.HandleFunc("POST "+p, e.serveAttach)
	}
	for _, p := range []string{"/portForward/{ns}/{pod}", "/portForward/{ns}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, e.servePortForward)
		mux.HandleFunc("POST "+p, e.servePortForward)
	}
	return authorize(mux)
}
