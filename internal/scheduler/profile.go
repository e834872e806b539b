package scheduler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/plugins/interpodaffinity"
	"mini.dev/mini/internal/scheduler/plugins/nodeaffinity"
	"mini.dev/mini/internal/scheduler/plugins/nodename"
	"mini.dev/mini/internal/scheduler/plugins/nodeports"
	"mini.dev/mini/internal/scheduler/plugins/noderesources"
	"mini.dev/mini/internal/scheduler/plugins/nodeunschedulable"
	"mini.dev/mini/internal/scheduler/plugins/podtopologyspread"
	"mini.dev/mini/internal/scheduler/plugins/tainttoleration"
)

// profile is the default profile's plugins at each extension point, in
// upstream's order: filters stop at the first rejection, so the order
// decides which reason a node reports.
type profile struct {
	preFilters []framework.PreFilterPlugin
	filters    []framework.FilterPlugin
	preScores  []framework.PreScorePlugin
	scores     []weightedScore
	extensions []framework.PreFilterExtensions
}

type weightedScore struct {
	framework.ScorePlugin
	weight int64
}

// defaultPlugins returns upstream's default profile, reduced to the
// plugins mini has, in the order of upstream's registry.
func defaultPlugins(nsLabels interpodaffinity.NamespaceLabels) []framework.Plugin {
	return []framework.Plugin{
		nodeunschedulable.NodeUnschedulable{},
		nodename.NodeName{},
		tainttoleration.TaintToleration{},
		nodeaffinity.NodeAffinity{},
		nodeports.NodePorts{},
		noderesources.Fit{},
		podtopologyspread.New(),
		&interpodaffinity.InterPodAffinity{NamespaceLabels: nsLabels},
		noderesources.BalancedAllocation{},
	}
}

func newProfile(plugins []framework.Plugin) *profile {
	p := &profile{}
	for _, pl := range plugins {
		if f, ok := pl.(framework.PreFilterPlugin); ok {
			p.preFilters = append(p.preFilters, f)
		}
		if f, ok := pl.(framework.FilterPlugin); ok {
			p.filters = append(p.filters, f)
		}
		if f, ok := pl.(framework.PreScorePlugin); ok {
			p.preScores = append(p.preScores, f)
		}
		if f, ok := pl.(framework.ScorePlugin); ok {
			w := int64(1)
			if wp, ok := pl.(framework.Weighted); ok {
				w = wp.Weight()
			}
			p.scores = append(p.scores, weightedScore{f, w})
		}
		if f, ok := pl.(framework.PreFilterExtensions); ok {
			p.extensions = append(p.extensions, f)
		}
	}
	return p
}

// cycle is one pod's pass through the profile: its state and the
// plugins its PreFilter/PreScore did not skip.
type cycle struct {
	pod     *corev1.Pod
	state   *framework.CycleState
	filters []framework.FilterPlugin
	scores  []weightedScore
	// nominated holds, per node, the pods nominated there that the
	// filters must count (priority >= pod's); nil when there are none.
	nominated *nominator
	// onlyNodes, when not nil, are the only nodes PreFilter allows, and
	// onlyBy the plugins that said so.
	onlyNodes map[string]bool
	onlyBy    []string
}

// runPreFilters runs every PreFilter; a rejection is returned with the
// plugin named.
func (p *profile) runPreFilters(ctx context.Context, c *cycle, nodes []*framework.NodeInfo) *framework.Status {
	skipped := map[string]bool{}
	for _, pl := range p.preFilters {
		st := pl.PreFilter(ctx, c.state, c.pod, nodes)
		if st.IsSkip() {
			skipped[pl.Name()] = true
			continue
		}
		if !st.IsSuccess() {
			st.Plugin = pl.Name()
			if st.Code == framework.Error && st.Err != nil {
				st.Err = fmt.Errorf("running PreFilter plugin %q: %w", pl.Name(), st.Err)
			}
			return st
		}
		if rp, ok := pl.(framework.PreFilterResultPlugin); ok {
			if names := rp.PreFilterResult(c.pod); names != nil {
				c.narrow(names, pl.Name())
			}
		}
	}
	c.filters = c.filters[:0]
	for _, f := range p.filters {
		if !skipped[f.Name()] {
			c.filters = append(c.filters, f)
		}
	}
	return nil
}

// narrow intersects the allowed nodes with names.
func (c *cycle) narrow(names map[string]bool, plugin string) {
	c.onlyBy = append(c.onlyBy, plugin)
	if c.onlyNodes == nil {
		c.onlyNodes = names
		return
	}
	both := map[string]bool{}
	for n := range names {
		if c.onlyNodes[n] {
			both[n] = true
		}
	}
	c.onlyNodes = both
}

// runFilters runs the filters on one node, stopping at the first
// rejection as upstream does.
func (c *cycle) runFilters(ctx context.Context, state *framework.CycleState, node *framework.NodeInfo) *framework.Status {
	for _, f := range c.filters {
		if st := f.Filter(ctx, state, c.pod, node); !st.IsSuccess() {
			st.Plugin = f.Name()
			return st
		}
	}
	return nil
}

// filterWithNominated runs the filters on node as upstream's
// RunFilterPluginsWithNominatedPods does: first with the pods nominated
// there of equal or higher priority added (they will take that room),
// then, if that passed, without them (pod affinity to a nominated pod
// must not be what makes the node fit).
func (p *profile) filterWithNominated(ctx context.Context, c *cycle, node *framework.NodeInfo) *framework.Status {
	if c.nominated == nil {
		return c.runFilters(ctx, c.state, node)
	}
	state, withNominated, added, err := p.addNominated(ctx, c, node)
	if err != nil {
		return framework.AsStatus(err)
	}
	st := c.runFilters(ctx, state, withNominated)
	if !st.IsSuccess() || !added {
		return st
	}
	return c.runFilters(ctx, c.state, node)
}

// addNominated returns copies of the state and node with the nominated
// pods that outrank (or equal) the cycle's pod added.
func (p *profile) addNominated(ctx context.Context, c *cycle, node *framework.NodeInfo) (*framework.CycleState, *framework.NodeInfo, bool, error) {
	pods := c.nominated.forNode(node.Node.Name)
	if len(pods) == 0 {
		return c.state, node, false, nil
	}
	prio := corev1helpers.PodPriority(c.pod)
	var state *framework.CycleState
	var info *framework.NodeInfo
	for _, np := range pods {
		if np.UID == c.pod.UID || corev1helpers.PodPriority(np) < prio {
			continue
		}
		if state == nil {
			state, info = c.state.Clone(), node.Clone()
		}
		np = np.DeepCopy()
		np.Spec.NodeName = node.Node.Name
		info.AddPod(np)
		if st := p.addPodExtensions(ctx, state, c.pod, np, info); !st.IsSuccess() {
			return nil, nil, false, st.Err
		}
	}
	if state == nil {
		return c.state, node, false, nil
	}
	return state, info, true, nil
}

func (p *profile) addPodExtensions(ctx context.Context, state *framework.CycleState, pod, add *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	for _, e := range p.extensions {
		if st := e.AddPod(ctx, state, pod, add, node); !st.IsSuccess() {
			return st
		}
	}
	return nil
}

func (p *profile) removePodExtensions(ctx context.Context, state *framework.CycleState, pod, rm *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	for _, e := range p.extensions {
		if st := e.RemovePod(ctx, state, pod, rm, node); !st.IsSuccess() {
			return st
		}
	}
	return nil
}

// runPreScores runs every PreScore and keeps the score plugins not
// skipped.
func (p *profile) runPreScores(ctx context.Context, c *cycle, nodes []*framework.NodeInfo) error {
	skipped := map[string]bool{}
	for _, pl := range p.preScores {
		st := pl.PreScore(ctx, c.state, c.pod, nodes)
		if st.IsSkip() {
			skipped[pl.Name()] = true
			continue
		}
		if !st.IsSuccess() {
			return fmt.Errorf("running PreScore plugin %q: %w", pl.Name(), statusErr(st))
		}
	}
	c.scores = c.scores[:0]
	for _, s := range p.scores {
		if !skipped[s.Name()] {
			c.scores = append(c.scores, s)
		}
	}
	return nil
}

func statusErr(st *framework.Status) error {
	if st.Err != nil {
		return st.Err
	}
	return fmt.Errorf("%s", st.Message())
}
