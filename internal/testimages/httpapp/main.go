// Command httpapp is the HTTP server in mini's test image
// mini.dev/test/httpapp. It answers with its version and hostname, so tests
// can tell rollouts and replicas apart, and offers the endpoints probes need:
//
//	GET /         "<version> <hostname>\n"
//	GET /healthz  200 "ok"; with FAIL_AFTER=<seconds>, 500 once that long
//	              has passed since start (the liveness example of the
//	              Kubernetes docs)
//	GET /ready    200 when the file named by READY_FILE exists (or
//	              READY_FILE is unset), 503 otherwise
//	GET /<path>   the file under WWW_DIR (default /www), for readiness
//	              probes on a file that `kubectl exec` creates
//
// It listens on $PORT (default 8080) and exits 0 on SIGTERM after draining.
// The test image builds this file with only the standard library, so it
// must stay in one file with no imports outside it.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=v1".
var version = "dev"

func main() {
	log.SetFlags(0)
	if err := run(); err != nil {
		log.Fatalf("httpapp: %v", err)
	}
}

func run() error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	var failAfter time.Duration
	if s := os.Getenv("FAIL_AFTER"); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 {
			return fmt.Errorf("FAIL_AFTER=%q: want a number of seconds", s)
		}
		failAfter = time.Duration(secs * float64(time.Second))
	}
	hostname, err := os.Hostname()
	if err != nil {
		return err
	}
	wwwDir := os.Getenv("WWW_DIR")
	if wwwDir == "" {
		wwwDir = "/www"
	}
	app := &app{
		hostname:  hostname,
		started:   time.Now(),
		failAfter: failAfter,
		readyFile: os.Getenv("READY_FILE"),
		files:     http.FileServer(http.Dir(wwwDir)),
	}
	srv := &http.Server{Addr: ":" + port, Handler: app, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("httpapp %s listening on :%s", version, port)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Printf("httpapp %s: shutting down", version)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

type app struct {
	hostname  string
	started   time.Time
	failAfter time.Duration
	readyFile string
	files     http.Handler
}

func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		fmt.Fprintf(w, "%s %s\n", version, a.hostname)
	case "/healthz":
		if up := time.Since(a.started); a.failAfter > 0 && up > a.failAfter {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "error: %v\n", up.Seconds())
			return
		}
		fmt.Fprintln(w, "ok")
	case "/ready":
		if a.readyFile != "" {
			if _, err := os.Stat(a.readyFile); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		fmt.Fprintln(w, "ready")
	default:
		a.files.ServeHTTP(w, r)
	}
}
