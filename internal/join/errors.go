package join

import (
	"errors"

	"mini.dev/mini/internal/pki"
)

// Errors of Join, each worded to be shown to the user as one line.
var (
	// ErrMalformedToken is returned for a token that is not
	// K10<ca-sha256>::<id>.<secret>.
	ErrMalformedToken = pki.ErrMalformedToken
	// ErrUnreachable is returned when no answer came from the server; the
	// message names the URL and the cause.
	ErrUnreachable = errors.New("cannot reach the server")
	// ErrCAMismatch is returned when the server's CA is not the one whose
	// hash the token carries: another server, or someone in between.
	ErrCAMismatch = errors.New("the server's CA does not match the token")
	// ErrUnauthorized is returned when the server refuses the token
	// (unknown, wrong or expired): 401.
	ErrUnauthorized = errors.New("the server refused the join token")
	// ErrNodeNameTaken is returned when another machine already joined
	// with the node name: 403.
	ErrNodeNameTaken = errors.New("the node name is already taken by another machine")
)

// joinError is a message for the user that is one of the errors above.
type joinError struct {
	kind error
	msg  string
}

func (e *joinError) Error() string { return e.msg }
func (e *joinError) Unwrap() error { return e.kind }
