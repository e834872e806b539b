package overlay

import "errors"

var (
	// ErrUnknownBackend is returned by New for a backend other than
	// vxlan, host-gw or none.
	ErrUnknownBackend = errors.New("unknown overlay backend")
	// ErrNoPublicIP is returned by New when a backend that needs the
	// node's underlay address (vxlan, host-gw) has none, and by a sync
	// when no link in the namespace holds it.
	ErrNoPublicIP = errors.New("public IP not found")
	// ErrClosed is returned by Teardown (and a sync) after Close.
	ErrClosed = errors.New("overlay closed")
)
