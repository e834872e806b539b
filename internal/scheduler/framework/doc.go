// Package framework holds what the scheduler and its plugins share: the
// per-node view the scheduler keeps (NodeInfo), the per-pod scratch space
// of one scheduling cycle (CycleState), the plugin interfaces and the
// Status a plugin answers with. It follows the shape of upstream's
// scheduling framework (pkg/scheduler/framework) so that each plugin reads
// like its upstream namesake, reduced to the extension points mini uses:
// PreFilter, Filter, PreScore, Score (with normalisation).
package framework
