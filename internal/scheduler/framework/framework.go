package framework

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Code says how a plugin judged a pod.
type Code int

const (
	// Success: the pod may go there (Filter) or the step succeeded.
	Success Code = iota
	// Unschedulable: the node does not fit now, but preempting lower-priority
	// pods there might make it fit.
	Unschedulable
	// UnschedulableAndUnresolvable: no preemption on this node can help
	// (node selector, taints, node name...).
	UnschedulableAndUnresolvable
	// Skip (PreFilter/PreScore only): the plugin has nothing to say about
	// this pod; its Filter/Score are not called for it.
	Skip
	// Error: the plugin failed; the pod is retried with backoff.
	Error
)

// Status is a plugin's verdict. A nil *Status means Success.
type Status struct {
	Code Code
	// Reasons are the upstream-worded reasons, e.g. "Insufficient cpu" or
	// "node(s) didn't match Pod's node affinity/selector". The scheduler
	// counts identical reasons across nodes to build the FailedScheduling
	// message ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ...").
	Reasons []string
	// Plugin is the name of the plugin that answered.
	Plugin string
	// Err is set with Code Error.
	Err error
}

// NewStatus returns a status with the given code and reasons.
func NewStatus(code Code, reasons ...string) *Status {
	return &Status{Code: code, Reasons: reasons}
}

// AsStatus wraps an error as an Error status.
func AsStatus(err error) *Status {
	if err == nil {
		return nil
	}
	return &Status{Code: Error, Reasons: []string{err.Error()}, Err: err}
}

// IsSuccess reports whether s is nil or Success.
func (s *Status) IsSuccess() bool { return s == nil || s.Code == Success }

// IsSkip reports whether s says Skip.
func (s *Status) IsSkip() bool { return s != nil && s.Code == Skip }

// Message joins the reasons.
func (s *Status) Message() string {
	if s == nil {
		return ""
	}
	return strings.Join(s.Reasons, ", ")
}

// Plugin is what every plugin is.
type Plugin interface {
	Name() string
}

// PreFilterPlugin computes, once per pod and cycle, what its Filter needs
// (stored in the CycleState). It may reject the pod outright: then no
// node is tried and the status's reasons are reported for every node.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// FilterPlugin says whether the pod fits on one node. It is called
// concurrently for different nodes and must not write shared state.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) *Status
}

// PreScorePlugin computes, once per pod and cycle, what its Score needs,
// given the nodes that passed the filters.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *corev1.Pod, nodes []*NodeInfo) *Status
}

// ScorePlugin ranks one feasible node for the pod. Called concurrently.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *corev1.Pod, node *NodeInfo) (int64, *Status)
}

// ScoreNormalizer is implemented by score plugins whose raw scores must be
// mapped into [MinNodeScore, MaxNodeScore] after every node is scored.
type ScoreNormalizer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *corev1.Pod, scores []NodeScore) *Status
}

// Weighted lets a score plugin carry its weight (default 1), as upstream's
// default profile weights them (e.g. TaintToleration 3, NodeAffinity 2,
// InterPodAffinity 2, PodTopologySpread 2).
type Weighted interface {
	Weight() int64
}

// Score bounds, as upstream.
const (
	MinNodeScore int64 = 0
	MaxNodeScore int64 = 100
)

// NodeScore is one node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// CycleState is the scratch space of one pod's scheduling cycle: PreFilter
// and PreScore write, one plugin after the other; Filter and Score only
// read, concurrently, once per node and plugin. Since writes and reads
// never overlap, a plain map serves without a lock, which matters at
// thousands of reads per pod.
type CycleState struct {
	data map[string]any
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{data: make(map[string]any, 16)} }

// Write stores v under key. It must not be called while Filter or Score
// run.
func (c *CycleState) Write(key string, v any) { c.data[key] = v }

// Read returns what was stored under key.
func (c *CycleState) Read(key string) (any, bool) {
	v, ok := c.data[key]
	return v, ok
}

// PreFilterExtensions is implemented by PreFilter plugins whose
// precomputed state depends on the pods of other nodes (inter-pod
// affinity, topology spread). Preemption and nominated pods change the
// set of pods the filters should see without recomputing PreFilter for
// every node: these update the state incrementally instead.
type PreFilterExtensions interface {
	AddPod(ctx context.Context, state *CycleState, podToSchedule, podToAdd *corev1.Pod, node *NodeInfo) *Status
	RemovePod(ctx context.Context, state *CycleState, podToSchedule, podToRemove *corev1.Pod, node *NodeInfo) *Status
}

// StateData is what a plugin may store in the CycleState so that Clone
// copies it deeply; values that are not StateData are shared by clones
// and must then never be modified after PreFilter.
type StateData interface {
	Clone() StateData
}

// Clone returns a copy of c whose StateData values are cloned, so that
// preemption can try removing pods from one node without touching the
// state other nodes are filtered with.
func (c *CycleState) Clone() *CycleState {
	out := &CycleState{data: make(map[string]any, len(c.data))}
	for k, v := range c.data {
		if sd, ok := v.(StateData); ok {
			v = sd.Clone()
		}
		out.data[k] = v
	}
	return out
}

// PreFilterResultPlugin is implemented by PreFilter plugins that can name
// the only nodes a pod may go to (NodeAffinity for a pod pinned by
// matchFields metadata.name, as DaemonSet pods are). The scheduler then
// filters only those nodes, and reports the others as not satisfying the
// plugin, as upstream's PreFilterResult does. A nil set means any node.
type PreFilterResultPlugin interface {
	PreFilterPlugin
	PreFilterResult(pod *corev1.Pod) map[string]bool
}
