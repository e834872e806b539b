package runtime

import "errors"

// Errors every backend returns (wrapped), so the agent can tell them apart
// with errors.Is.
var (
	// ErrNotFound: the sandbox, container or image does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalidState: the call does not fit the object's state, e.g.
	// starting a container that is not in the created state.
	ErrInvalidState = errors.New("invalid state")
	// ErrTimeout: an ExecSync command ran longer than its timeout.
	ErrTimeout = errors.New("timed out")
)
