// Package apitest holds the API server's integration tests: each starts
// the store and the API in-process on a random loopback port and drives
// them as users do, with the bundled kubectl (run as a child process, as a
// user types it) and with client-go.
package apitest
