// Package job is upstream's Job controller (pkg/controller/job): it runs a
// Job's pods from its template until enough of them succeed, and counts
// finished pods exactly once through the batch.kubernetes.io/job-tracking
// finalizer and status.uncountedTerminatedPods.
//
// The counting protocol is upstream's, because clients (kubectl wait,
// client-go programs) read the same status fields: a finished pod that
// still carries the finalizer is first written into
// status.uncountedTerminatedPods, then its finalizer is removed, then it
// moves from the uncounted lists into status.succeeded / status.failed.
// A crash between any two steps leaves enough in the API to finish the
// count without counting twice. Terminal conditions follow upstream v1.31+:
// an interim FailureTarget or SuccessCriteriaMet condition is written
// first, and Failed or Complete only once no pod of the Job is left
// running or terminating.
package job
