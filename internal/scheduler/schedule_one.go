package scheduler

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"

	"mini.dev/mini/internal/scheduler/framework"
)

// Upstream's bounds on how many feasible nodes a cycle looks for before
// it stops filtering (percentageOfNodesToScore's adaptive default).
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// numFeasibleNodesToFind is upstream's adaptive default: all nodes up to
// 100, then 50% less 1% per 125 nodes, never under 5% or 100 nodes.
func numFeasibleNodesToFind(numAllNodes int) int {
	if numAllNodes < minFeasibleNodesToFind {
		return numAllNodes
	}
	pct := 50 - numAllNodes/125
	if pct < minFeasibleNodesPercentageToFind {
		pct = minFeasibleNodesPercentageToFind
	}
	n := numAllNodes * pct / 100
	if n < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return n
}

// scheduleResult is where a cycle decided to put the pod.
type scheduleResult struct {
	host string
	// evaluated counts nodes filtered, feasible those that passed.
	evaluated, feasible int
}

// schedulePod picks a node for the cycle's pod, or returns a *FitError
// saying why none fits.
func (s *Scheduler) schedulePod(ctx context.Context, c *cycle) (scheduleResult, error) {
	nodes := s.snapshot.list
	if len(nodes) == 0 {
		return scheduleResult{}, ErrNoNodesAvailable
	}
	feasible, diag, err := s.findNodesThatFit(ctx, c, nodes)
	if err != nil {
		return scheduleResult{}, err
	}
	if len(feasible) == 0 {
		return scheduleResult{}, &FitError{Pod: c.pod, NumAllNodes: len(nodes), Diagnosis: diag}
	}
	res := scheduleResult{evaluated: len(feasible) + len(diag.NodeToStatus), feasible: len(feasible)}
	if len(feasible) == 1 {
		res.host = feasible[0].Node.Name
		return res, nil
	}
	scores, err := s.prioritize(ctx, c, feasible)
	if err != nil {
		return scheduleResult{}, err
	}
	res.host = selectHost(scores)
	return res, nil
}

// findNodesThatFit runs PreFilter, then the filters over the nodes in
// parallel from a rotating start, until enough feasible nodes are found.
func (s *Scheduler) findNodesThatFit(ctx context.Context, c *cycle, nodes []*framework.NodeInfo) ([]*framework.NodeInfo, Diagnosis, error) {
	diag := Diagnosis{NodeToStatus: map[string]*framework.Status{}}
	if st := s.profile.runPreFilters(ctx, c, nodes); !st.IsSuccess() {
		if st.Code == framework.Error {
			return nil, diag, statusErr(st)
		}
		// The PreFilter's verdict stands for every node.
		diag.AbsentStatus = st
		diag.PreFilterMsg = st.Message()
		return nil, diag, nil
	}

	numAll := len(nodes)
	if c.onlyNodes != nil {
		// Upstream's PreFilterResult: filter only the nodes PreFilter
		// allowed; the rest did not satisfy the plugins that said so.
		diag.AbsentStatus = framework.NewStatus(framework.UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) [%s]", strings.Join(c.onlyBy, " ")))
		var only []*framework.NodeInfo
		for _, ni := range nodes {
			if c.onlyNodes[ni.Node.Name] {
				only = append(only, ni)
			}
		}
		nodes = only
		if len(nodes) == 0 {
			return nil, diag, nil
		}
	}

	// A pod nominated by an earlier preemption tries its node first: the
	// room was made for it there.
	if nn := c.pod.Status.NominatedNodeName; nn != "" {
		if ni := s.snapshot.get(nn); ni != nil {
			if st := s.profile.filterWithNominated(ctx, c, ni); st.IsSuccess() {
				return []*framework.NodeInfo{ni}, diag, nil
			} else if st.Code == framework.Error {
				return nil, diag, statusErr(st)
			}
		}
	}

	n := len(nodes)
	want := numFeasibleNodesToFind(n)
	start := s.nextStartNodeIndex % n
	restricted := n != numAll
	if len(c.filters) == 0 && c.nominated == nil {
		// Nothing to check: take the next nodes in turn.
		out := make([]*framework.NodeInfo, want)
		for i := range out {
			out[i] = nodes[(start+i)%n]
		}
		if !restricted {
			s.nextStartNodeIndex = (start + want) % n
		}
		return out, diag, nil
	}

	// The buffers are the scheduler's, reused cycle after cycle (cycles
	// run one at a time): at thousands of pods per second, fresh slices
	// per cycle would be most of the garbage.
	feasible := grow(&s.buf.feasible, want)
	statuses := grow(&s.buf.statuses, n)
	clear(statuses)
	var found atomic.Int32
	var firstErr atomic.Pointer[framework.Status]
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	check := func(i int) {
		if int(found.Load()) >= want {
			return // enough found; the rest of this chunk is not needed
		}
		ni := nodes[(start+i)%n]
		st := s.profile.filterWithNominated(pctx, c, ni)
		if st.IsSuccess() {
			k := found.Add(1)
			if int(k) > want {
				cancel()
				found.Add(-1)
				return
			}
			feasible[k-1] = ni
			return
		}
		if st.Code == framework.Error {
			firstErr.CompareAndSwap(nil, st)
			cancel()
			return
		}
		statuses[i] = st
	}
	workqueue.ParallelizeUntil(pctx, s.parallelism, n, check, workqueue.WithChunkSize(chunkSize(n, s.parallelism)))
	if st := firstErr.Load(); st != nil {
		return nil, diag, statusErr(st)
	}
	feasible = feasible[:found.Load()]
	processed := len(feasible)
	for i, st := range statuses {
		if st != nil {
			diag.NodeToStatus[nodes[(start+i)%n].Node.Name] = st
			processed++
		}
	}
	if !restricted {
		s.nextStartNodeIndex = (start + processed) % n
	}
	return feasible, diag, nil
}

// chunkSize is upstream's: about sqrt(n), but at least enough chunks
// for every worker.
func chunkSize(n, workers int) int {
	c := int(math.Sqrt(float64(n)))
	if r := n/workers + 1; c > r {
		c = r
	}
	if c < 1 {
		c = 1
	}
	return c
}

// prioritize scores the feasible nodes with every score plugin the pod
// did not skip, normalises each plugin's scores to 0..100 and sums them
// weighted.
func (s *Scheduler) prioritize(ctx context.Context, c *cycle, nodes []*framework.NodeInfo) ([]framework.NodeScore, error) {
	if err := s.profile.runPreScores(ctx, c, nodes); err != nil {
		return nil, err
	}
	total := grow(&s.buf.total, len(nodes))
	for i, ni := range nodes {
		total[i] = framework.NodeScore{Name: ni.Node.Name}
	}
	if len(c.scores) == 0 {
		return total, nil
	}
	flat := grow(&s.buf.scores, len(c.scores)*len(nodes))
	perPlugin := grow(&s.buf.perPlugin, len(c.scores))
	for j := range perPlugin {
		perPlugin[j] = flat[j*len(nodes) : (j+1)*len(nodes)]
	}
	var firstErr atomic.Pointer[framework.Status]
	workqueue.ParallelizeUntil(ctx, s.parallelism, len(nodes), func(i int) {
		for j, sp := range c.scores {
			v, st := sp.Score(ctx, c.state, c.pod, nodes[i])
			if !st.IsSuccess() {
				st.Plugin = sp.Name()
				firstErr.CompareAndSwap(nil, st)
				return
			}
			perPlugin[j][i] = framework.NodeScore{Name: nodes[i].Node.Name, Score: v}
		}
	}, workqueue.WithChunkSize(chunkSize(len(nodes), s.parallelism)))
	if st := firstErr.Load(); st != nil {
		return nil, statusErr(st)
	}
	for j, sp := range c.scores {
		if norm, ok := sp.ScorePlugin.(framework.ScoreNormalizer); ok {
			if st := norm.NormalizeScore(ctx, c.state, c.pod, perPlugin[j]); !st.IsSuccess() {
				return nil, statusErr(st)
			}
		}
		for i := range nodes {
			total[i].Score += perPlugin[j][i].Score * sp.weight
		}
	}
	return total, nil
}

// selectHost returns the best-scored node, choosing uniformly at random
// among ties by reservoir sampling, as upstream.
func selectHost(scores []framework.NodeScore) string {
	best := scores[0]
	ties := 1
	for _, ns := range scores[1:] {
		switch {
		case ns.Score > best.Score:
			best, ties = ns, 1
		case ns.Score == best.Score:
			ties++
			if rand.IntN(ties) == 0 {
				best = ns
			}
		}
	}
	return best.Name
}

// defaultParallelism is how many goroutines filter and score: one per
// CPU, at most upstream's 16.
func defaultParallelism() int {
	return min(runtime.GOMAXPROCS(0), 16)
}

// podToSchedule reports whether the pod is still one to schedule. A pod
// with scheduling gates waits (upstream's SchedulingGates PreEnqueue);
// removing the last gate makes it pass, which queues it.
func podToSchedule(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil && len(pod.Spec.SchedulingGates) == 0 &&
		pod.Spec.SchedulerName == corev1.DefaultSchedulerName &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// cycleBuffers are slices reused from one cycle to the next.
type cycleBuffers struct {
	feasible  []*framework.NodeInfo
	statuses  []*framework.Status
	total     []framework.NodeScore
	scores    []framework.NodeScore
	perPlugin [][]framework.NodeScore
}

// grow returns (*buf)[:n], reallocating only when too small.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return *buf
}
