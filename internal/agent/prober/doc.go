// Package prober runs a node's container probes and lifecycle hooks, as
// kubelet's prober manager and handler runner do.
//
// The agent calls Sync on every pod sync with the pod's running
// containers; the Manager keeps one worker goroutine per probe of each
// running container and forgets a container once it is gone or replaced
// by a restart (results are keyed by container ID, so a restarted
// container starts from the initial results again). The agent reads the
// results back with Ready, Started and Liveness when it computes the
// pod's status and actions, and is told through Config.OnChange when one
// of them changed, so it resyncs the pod at once instead of on its next
// periodic sync.
//
// Results follow kubelet: readiness starts false, liveness true, startup
// unknown (so Started is false); liveness and readiness probes do not run
// until the startup probe succeeded; a result changes only after
// successThreshold / failureThreshold probes in a row agree; a failed
// liveness or startup probe puts the worker on hold until the container
// is replaced. Probe errors (a port name that resolves to nothing, a
// runtime that cannot exec) are retried three times, recorded as events
// and otherwise ignored, as kubelet does.
package prober
