// Package reconcile is the work-queue loop every mini controller shares:
// a rate-limited queue of string keys, and Run, which waits for the
// informer caches, then lets workers call a level-based sync function
// for each key (Get, then Forget on success or AddRateLimited on error,
// then Done) until the context ends. Controllers differ only in the
// options they pass: which log attribute names the key, at which level a
// failed sync is logged, and whether a key is dropped after too many
// retries.
package reconcile
