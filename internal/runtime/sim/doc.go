// Package sim is the simulated container runtime behind --sim-nodes: an
// in-memory runtime.Runtime that runs no processes. Sandboxes and
// containers are records with CRI states; a started container keeps
// running until it is stopped, except that it exits on its own, after a
// delay measured on the injected clock, when
//
//   - it is an init container (exit 0 after one second), or
//   - its pod's restartPolicy is Never or OnFailure (exit 0 after one
//     second), or
//   - its pod carries the annotations mini.dev/sim-exit-code (an int) or
//     mini.dev/sim-duration (a Go duration), which override the exit code
//     and the delay for any restart policy: an Always pod with
//     sim-exit-code=1 crash-loops as a real one would.
//
// Every image "pulls" at once and is then present, so that pod status
// carries an imageID. Exits are pushed to subscribers (runtime.EventSource)
// so the agent sees them without relisting.
package sim
