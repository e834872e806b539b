// Package scheduler is mini's kube-scheduler: it watches pods that name
// "default-scheduler" and have no node, picks a node for each with the
// default profile's filter and score plugins (internal/scheduler/plugins),
// and binds it through pods/binding. Pods that fit nowhere get
// PodScheduled=False and a FailedScheduling event worded as upstream, and
// may preempt lower-priority pods.
//
// The moving parts, each in its own file, as upstream:
//
//   - cache.go: nodes and the pods on them, including pods "assumed" on a
//     node before their binding returns, so that the next cycle already
//     sees the resources as used while the binding runs asynchronously;
//   - snapshot.go: the per-cycle read-only copy of the cache, refreshed
//     incrementally by generation rather than rebuilt per pod;
//   - queue.go: activeQ (priority, then age), backoffQ (1 s doubling to
//     10 s) and the unschedulable pods parked until a cluster event might
//     help them; nominator.go tracks pods nominated by preemption;
//   - schedule_one.go: one cycle: PreFilter, parallel Filter until enough
//     nodes fit, PreScore, Score, normalise and weigh, pick the best with
//     random tie-breaking, assume, bind;
//   - failure.go and fiterror.go: what an unschedulable pod is told;
//   - preemption*.go: DefaultPreemption.
package scheduler
