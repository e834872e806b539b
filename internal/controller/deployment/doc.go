// Package deployment is upstream's Deployment controller: a Deployment
// owns one ReplicaSet per pod template it has had, named
// "<deployment>-<pod-template-hash>", and rolls pods from the old ones to
// the new one (RollingUpdate within maxSurge/maxUnavailable, or Recreate),
// scales them proportionally when the Deployment is scaled mid-rollout,
// numbers them with the deployment.kubernetes.io/revision annotation so
// that `kubectl rollout history|undo` work, keeps revisionHistoryLimit
// old ones, and reports progress (Progressing, Available, ReplicaFailure
// conditions and the replica counts) in the Deployment's status.
package deployment
