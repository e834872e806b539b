package dns

import "errors"

var (
	// ErrNoUpstream is returned by a forward when no upstream resolver is
	// configured or none answered; the client gets SERVFAIL.
	ErrNoUpstream = errors.New("dns: no upstream resolver answered")
	// ErrConfig is returned by New for a Config it cannot serve.
	ErrConfig = errors.New("dns: invalid config")
)
