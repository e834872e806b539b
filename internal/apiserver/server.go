package apiserver

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/openapi"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/rbac"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
	"mini.dev/mini/internal/version"
)

// Store is what the API needs of the store.
type Store interface {
	Get(ctx context.Context, key string) (store.KV, error)
	Create(ctx context.Context, key string, value []byte) (store.KV, error)
	Update(ctx context.Context, key string, value []byte, expectedRev int64) (store.KV, error)
	Delete(ctx context.Context, key string, expectedRev int64) (store.KV, int64, error)
	List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error)
	Watch(ctx context.Context, prefix string, afterRev int64) (*store.Watcher, error)
	Revision() int64
}

// Config configures the API server.
type Config struct {
	Store    Store
	Registry *registry.Registry
	// CA verifies client certificates.
	CA *pki.CA
	// CertPEM and KeyPEM are the serving certificate.
	CertPEM, KeyPEM []byte
	// ServiceAccountKey signs and verifies service-account tokens; nil
	// serves no tokens.
	ServiceAccountKey crypto.Signer
	// Listen is the host:port to listen on; port 0 picks a free one.
	Listen string
	Logger *slog.Logger
	// ServiceCIDR is where Service cluster IPs come from (default
	// 10.43.0.0/16); its first address is the kubernetes Service's.
	ServiceCIDR string
	// NodePortRange is where node ports come from (default 30000-32767).
	NodePortRange string
	// AdvertiseAddress is the IP the kubernetes Service's endpoints point
	// at (default 127.0.0.1).
	AdvertiseAddress string
	// ClusterCIDR is the pod network, told to nodes as they join.
	ClusterCIDR string
	// Components probe the control-plane components the server runs
	// beside the API ("scheduler", "controller-manager"), for
	// componentstatuses: nil is healthy. One not in the map is not run.
	Components map[string]func(context.Context) error
}

// Server is the API server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	codecs  *codecs
	fields  *fieldManagers
	openapi *openapi.Documents
	tokens  *tokens     // nil without a service-account key
	rbac    *rbacLister // nil when the registry serves no RBAC
	authz   *rbac.Authorizer
	hooks   map[schema.GroupVersionResource]*hooks
	// listCache keeps the JSON of listed objects by key and revision.
	listCache *jsonCache
	// kubelet reaches nodes' kubelet endpoints (pods/log, exec...).
	kubelet kubeletClient
	tls     *tls.Config

	ready chan struct{}
	mu    sync.Mutex
	addr  string
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Registry == nil || cfg.CA == nil {
		return nil, errors.New("apiserver: Store, Registry and CA are required")
	}
	cert, err := tls.X509KeyPair(cfg.CertPEM, cfg.KeyPEM)
	if err != nil {
		return nil, fmt.Errorf("apiserver: serving certificate: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.43.0.0/16"
	}
	if cfg.NodePortRange == "" {
		cfg.NodePortRange = "30000-32767"
	}
	if cfg.AdvertiseAddress == "" {
		cfg.AdvertiseAddress = "127.0.0.1"
	}
	c := newCodecs()
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "apiserver"),
		codecs: c,
		fields: newFieldManagers(c.scheme),
		// Built on the first request for them, not at start.
		openapi: openapi.New(cfg.Registry),
		tls: &tls.Config{
			Certificates: []tls.Certificate{cert},
			// A client certificate is how most clients authenticate, but
			// health checks and bearer tokens come without one.
			ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs:  cfg.CA.Pool(),
			MinVersion: tls.VersionTLS12,
			NextProtos: []string{"h2", "http/1.1"},
		},
		ready: make(chan struct{}),
	}
	if cfg.ServiceAccountKey != nil {
		if s.tokens, err = newTokens(cfg.ServiceAccountKey); err != nil {
			return nil, fmt.Errorf("apiserver: %w", err)
		}
	}
	s.hooks = s.resourceHooks()
	s.listCache = newJSONCache(listCacheBudget)
	if l, ok := s.newRBACLister(); ok {
		s.rbac, s.authz = l, rbac.New(l)
	}
	return s, nil
}

// Ready is closed once the server accepts connections.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on, once Ready.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.bootstrap(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return fmt.Errorf("apiserver: bootstrap: %w", err)
	}
	if err := s.repairServices(ctx); err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	if s.rbac != nil {
		// Authorization reads RBAC from memory; serve once it is loaded.
		for _, c := range s.rbac.caches() {
			go c.run(ctx, s)
		}
		for _, c := range s.rbac.caches() {
			select {
			case <-c.synced:
			case <-ctx.Done():
				return nil
			}
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("apiserver: %w", err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		TLSConfig:         s.tls,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	s.mu.Lock()
	s.addr = ln.Addr().String()
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("serving", "addr", s.addr)

	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("apiserver: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Watches end with ctx (their BaseContext); Shutdown waits for the rest.
	if err := srv.Shutdown(shutdown); err != nil {
		srv.Close()
	}
	return nil
}

// Handler is the whole API, for tests that serve it themselves.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		mux.HandleFunc(path, s.serveHealth)
		mux.HandleFunc(path+"/", s.serveHealth)
	}
	mux.HandleFunc("/version", s.serveVersion)
	s.serveJoin(mux) // authenticates by join token, not as the API does
	// Every authenticated user may read the API's schema, as upstream.
	mux.Handle("/openapi/", s.authenticated(s.authorizedPath(s.openapi)))
	mux.Handle("/", s.authenticated(http.HandlerFunc(s.serveAPI)))
	return s.recoverPanics(mux)
}

// recoverPanics turns a handler panic into a 500 Status instead of a
// dropped connection, and logs it with its stack.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.writeError(w, r, apierrors.NewInternalError(fmt.Errorf("%v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Has("verbose") {
		fmt.Fprintf(w, "[+]ping ok\n[+]store ok\n%s check passed\n", r.URL.Path[1:])
		return
	}
	fmt.Fprint(w, "ok")
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, version.Get())
}
