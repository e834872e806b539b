// Package clustertest holds the cluster's integration tests: each starts a
// whole `mini server` in-process (store, API, scheduler, controllers and
// simulated nodes) on a random loopback port and drives it as a user does,
// with the bundled kubectl run as a child process, and with client-go
// where a test must look closer.
package clustertest
