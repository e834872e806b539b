// Package store is mini's embedded key/value store: every cluster object lives
// here, in one bbolt file, with etcd's guarantees and without its consensus
// round-trip.
//
// # Design
//
// The bbolt file has three buckets:
//
//   - "kv" maps each live key to its latest record (value, create and modify
//     revision). Gets and lists at the current revision read only this bucket.
//   - "log" maps each revision (8 bytes, big-endian, so bbolt's order is
//     revision order) to the event that produced it, with the previous value for
//     updates and deletes. It is the history: watches from an old revision
//     replay it, and lists at an old revision (the continue token of a paged
//     list) undo the events after that revision on top of "kv".
//   - "meta" holds the current revision and the compacted revision.
//
// Every create, update and delete gets the next revision, so the log is dense:
// revision r is the r-th write. One committer goroutine owns all writes. Writers
// queue their operation and wait; the committer takes every queued operation
// into one bbolt transaction, commits it with one fsync, and only then publishes
// the events and answers the writers (group commit). Nobody is acknowledged
// before the fsync that holds the write, and a crash loses only writes that were
// never acknowledged: bbolt's copy-on-write pages and meta checksums make the
// last committed transaction the state on reopen.
//
// Watchers are served from memory: the committer appends each event to a ring
// of the most recent events, and every watcher follows the ring at its own
// cursor. Writers never wait for watchers. A watcher that falls a full ring
// behind is closed with ErrWatcherTooSlow and must re-list. A watch that starts
// before the ring's oldest event first replays the log from disk.
//
// Compaction bounds the history by count and by age: it deletes log entries
// from the oldest on and records the compacted revision. A watch or a list at a
// revision older than that fails with ErrCompacted (the API's 410 Gone).
package store
