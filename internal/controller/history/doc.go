// Package history is what the DaemonSet and StatefulSet controllers share
// about ControllerRevisions, as upstream's pkg/controller/history: the
// revision that snapshots a controller's pod template (the JSON patch that
// restores it, which is what `kubectl rollout undo` applies), its hash and
// name, revision numbers, finding revisions equal to a new one, creating
// with a collision count, and truncating old revisions to the controller's
// revisionHistoryLimit.
package history
