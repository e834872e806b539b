package store

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compare with errors.Is: some are wrapped with detail.
var (
	// ErrNotFound is returned by Get, Update and Delete when the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrExists is returned by Create when the key already exists.
	ErrExists = errors.New("store: key already exists")
	// ErrConflict is returned by Update and Delete when the key's modify revision
	// is not the expected one. The error is a *ConflictError carrying the current
	// record, so a read-modify-write loop can retry without another Get.
	ErrConflict = errors.New("store: revision conflict")
	// ErrCompacted is returned by Watch and List (and ends a watcher) when the
	// requested revision is older than the history kept by compaction.
	ErrCompacted = errors.New("store: requested revision has been compacted")
	// ErrFutureRevision is returned by List when asked for a revision the store
	// has not reached yet.
	ErrFutureRevision = errors.New("store: requested revision is in the future")
	// ErrWatcherTooSlow ends a watcher whose consumer fell more than the watch
	// window behind the writers; the consumer must re-list.
	ErrWatcherTooSlow = errors.New("store: watcher fell too far behind")
	// ErrInvalidKey is returned for a key that is empty, does not start with '/',
	// contains a NUL byte or is longer than MaxKeyLen.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrInvalidContinue is returned by List for a continue token that is
	// malformed or whose revision differs from the one asked for. A token
	// stores its start key relative to the listed prefix, so it can never
	// resume outside the prefix it is used with.
	ErrInvalidContinue = errors.New("store: invalid continue token")
	// ErrCorrupt is returned when a record read from disk fails its checksum or
	// cannot be decoded.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrClosed is returned by every operation after Close, and ends watchers.
	ErrClosed = errors.New("store: closed")
	// ErrWriteFailed is returned by a write whose transaction failed to
	// commit, and by every write after it: the store stops writing until it
	// is reopened, because after a failed fsync the file's state is unknown.
	ErrWriteFailed = errors.New("store: write failed")
	// ErrInvalidArgument is returned for a negative revision or limit.
	ErrInvalidArgument = errors.New("store: invalid argument")
)

// ConflictError is the error of an Update or Delete whose expected revision is
// stale. It matches ErrConflict with errors.Is.
type ConflictError struct {
	Key      string
	Expected int64
	Current  KV
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("store: revision conflict on %s: expected modify revision %d, current is %d",
		e.Key, e.Expected, e.Current.ModRevision)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
