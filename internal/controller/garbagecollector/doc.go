// Package garbagecollector is upstream's garbage collector
// (pkg/controller/garbagecollector): it deletes objects whose every owner
// is gone, and carries out foreground and orphan deletion for owners the
// API server has marked with the "foregroundDeletion" or "orphan"
// finalizer.
//
// It watches the metadata of every listable, watchable and deletable
// resource the API serves (rediscovered every 30 s) and keeps a graph of
// owner UID -> dependents. Each graph node holds only an object's identity,
// its owner references and a few flags, so that tens of thousands of pods
// cost little; the informers' copies are trimmed to the fields the
// collector reads.
//
// Work goes through two queues, as upstream: attemptToDelete (an object
// that may have lost its owners, or an owner deleting its dependents) and
// attemptToOrphan (an owner whose dependents must lose their reference to
// it). Every decision is made on a fresh GET of the object and its owners,
// never on the graph alone, since informers lag.
package garbagecollector
