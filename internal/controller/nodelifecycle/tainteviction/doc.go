// Package tainteviction is upstream's taint eviction controller
// ("taint-eviction-controller", once the node lifecycle controller's taint
// manager): it deletes the pods that do not tolerate a NoExecute taint of
// their node.
//
// A pod tolerating none of the taints is deleted at once. A pod tolerating
// all of them, some with tolerationSeconds, is deleted when the shortest of
// those has passed since the taint was added (the taint's timeAdded); one
// tolerating them forever stays. Before deleting, the pod gets the
// DisruptionTarget condition (reason DeletionByTaintManager) and the event
// TaintManagerEviction.
//
// The controller is level-based: every decision is recomputed from the
// pod, its node and the clock, and a pod whose deadline is in the future
// is simply queued again for then. A taint that goes away, or a pod that
// gains a toleration, therefore cancels the eviction without any timer
// bookkeeping.
package tainteviction
