// Package tourtest runs the README's five-minute tour as a user types it:
// every command of the tour block, in order, with bash, in the repository,
// with a clean HOME and data dir, checking each command's output and exit
// status. The expectations are a table beside the test, command by
// command; a README command the table does not know, or the other way
// round, fails the test, so that the README and the test change together.
//
// The tour runs a real node (root, containerd), with the default names of
// the host's network devices and nftables tables: it is skipped on a
// machine where another mini cluster has them.
package tourtest
