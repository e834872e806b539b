package scheduler

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/workqueue"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"

	"mini.dev/mini/internal/scheduler/framework"
)

// Upstream's bounds on how many candidate nodes a preemption evaluates.
const (
	minCandidateNodesPercentage = 10
	minCandidateNodesAbsolute   = 100
)

// Upstream's wording of preemption outcomes.
const (
	msgNoVictims         = "No preemption victims found for incoming pod"
	msgNotHelpful        = "Preemption is not helpful for scheduling"
	msgPolicyNever       = "not eligible due to preemptionPolicy=Never."
	msgTerminatingVictim = "not eligible due to a terminating pod on the nominated node."
)

// candidate is a node where evicting victims makes the pod fit.
type candidate struct {
	node    string
	victims []*corev1.Pod // most important first
	// pdbViolations counts victims whose eviction breaks a budget.
	pdbViolations int
}

// preempt is upstream's DefaultPreemption PostFilter. It returns the node
// to nominate the pod to (nil: leave the nomination as it is; "": clear
// it), or the "preemption: ..." message saying why it could not help.
func (s *Scheduler) preempt(ctx context.Context, c *cycle, diag *Diagnosis) (*string, string, error) {
	pod := c.pod
	if cur, err := s.podLister.Pods(pod.Namespace).Get(pod.Name); err == nil && cur.UID == pod.UID {
		pod = cur
	}
	if ok, why := s.eligibleToPreempt(pod, diag); !ok {
		return nil, "preemption: " + why, nil
	}
	nodes := s.snapshot.list
	var potential []*framework.NodeInfo
	for _, ni := range nodes {
		if st := diag.statusOf(ni.Node.Name); st != nil && st.Code == framework.Unschedulable {
			potential = append(potential, ni)
		}
	}
	none := ""
	statuses := map[string]*framework.Status{}
	var candidates []candidate
	if len(potential) > 0 {
		candidates, statuses = s.dryRunPreemption(ctx, c, pod, potential)
	}
	if len(candidates) == 0 {
		fe := &FitError{Pod: pod, NumAllNodes: len(nodes), Diagnosis: Diagnosis{
			NodeToStatus: statuses,
			AbsentStatus: framework.NewStatus(framework.UnschedulableAndUnresolvable, msgNotHelpful),
		}}
		return &none, "preemption: " + fe.Error(), nil
	}
	best := pickOneNodeForPreemption(candidates)
	if err := s.prepareCandidate(ctx, best, pod); err != nil {
		return nil, "", err
	}
	return &best.node, "", nil
}

// eligibleToPreempt is upstream's PodEligibleToPreemptOthers.
func (s *Scheduler) eligibleToPreempt(pod *corev1.Pod, diag *Diagnosis) (bool, string) {
	if p := pod.Spec.PreemptionPolicy; p != nil && *p == corev1.PreemptNever {
		return false, msgPolicyNever
	}
	nn := pod.Status.NominatedNodeName
	if nn == "" {
		return true, ""
	}
	// Its nominated node no longer suits it at all: preempt elsewhere.
	if st := diag.statusOf(nn); st != nil && st.Code == framework.UnschedulableAndUnresolvable {
		return true, ""
	}
	// Victims of an earlier preemption are still terminating there: wait
	// for them rather than evicting more.
	if ni := s.snapshot.get(nn); ni != nil {
		prio := corev1helpers.PodPriority(pod)
		for _, p := range ni.Pods {
			if corev1helpers.PodPriority(p) < prio && terminatingByPreemption(p) {
				return false, msgTerminatingVictim
			}
		}
	}
	return true, ""
}

func terminatingByPreemption(p *corev1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == corev1.PodReasonPreemptionByScheduler {
			return true
		}
	}
	return false
}

// dryRunPreemption tries the potential nodes from a random offset, in
// parallel, until it has upstream's number of candidates (10% of the
// nodes, at least 100); it also returns why the other nodes failed.
func (s *Scheduler) dryRunPreemption(ctx context.Context, c *cycle, pod *corev1.Pod, potential []*framework.NodeInfo) ([]candidate, map[string]*framework.Status) {
	n := len(potential)
	want := n * minCandidateNodesPercentage / 100
	if want < minCandidateNodesAbsolute {
		want = minCandidateNodesAbsolute
	}
	if want > n {
		want = n
	}
	offset := rand.IntN(n)
	results := make([]*candidate, n)
	statuses := make([]*framework.Status, n)
	pdbs, err := s.pdbLister.List(labels.Everything())
	if err != nil {
		pdbs = nil // without budgets, every victim counts as allowed
	}
	var mu sync.Mutex
	found := 0
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workqueue.ParallelizeUntil(pctx, s.parallelism, n, func(i int) {
		ni := potential[(offset+i)%n]
		victims, violations, st := s.selectVictimsOnNode(pctx, c, pod, ni, pdbs)
		if !st.IsSuccess() {
			statuses[i] = st
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if found >= want {
			cancel()
			return
		}
		// Like upstream, only candidates that break no budget count
		// towards stopping early.
		if violations == 0 {
			found++
		}
		results[i] = &candidate{node: ni.Node.Name, victims: victims, pdbViolations: violations}
	})
	var out []candidate
	byNode := map[string]*framework.Status{}
	for i := range potential {
		if results[i] != nil {
			out = append(out, *results[i])
		} else if statuses[i] != nil {
			byNode[potential[(offset+i)%n].Node.Name] = statuses[i]
		}
	}
	return out, byNode
}

// selectVictimsOnNode is upstream's: remove every lower-priority pod; if
// the pod then fits, add them back, those whose eviction would break a
// PodDisruptionBudget first and then the others, each group most
// important first, keeping out only those whose return makes it not
// fit. It returns the victims and how many of them break a budget.
func (s *Scheduler) selectVictimsOnNode(ctx context.Context, c *cycle, pod *corev1.Pod, node *framework.NodeInfo, pdbs []*policyv1.PodDisruptionBudget) ([]*corev1.Pod, int, *framework.Status) {
	prio := corev1helpers.PodPriority(pod)
	// Most nodes of a full cluster of equal priorities have nothing to
	// offer: say so before copying anything.
	anyLower := false
	for _, p := range node.Pods {
		if corev1helpers.PodPriority(p) < prio {
			anyLower = true
			break
		}
	}
	if !anyLower {
		return nil, 0, framework.NewStatus(framework.UnschedulableAndUnresolvable, msgNoVictims)
	}
	state, ni := c.state.Clone(), node.Clone()
	vc := &cycle{pod: pod, state: state, filters: c.filters, nominated: c.nominated}
	var potential []*corev1.Pod
	for _, p := range append([]*corev1.Pod(nil), ni.Pods...) {
		if corev1helpers.PodPriority(p) >= prio {
			continue
		}
		potential = append(potential, p)
		ni.RemovePod(p)
		if st := s.profile.removePodExtensions(ctx, state, pod, p, ni); !st.IsSuccess() {
			return nil, 0, st
		}
	}
	if st := s.profile.filterWithNominated(ctx, vc, ni); !st.IsSuccess() {
		return nil, 0, st
	}
	now := s.clock.Now()
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i], potential[j], now) })
	violating, nonViolating := splitByPDBViolation(potential, pdbs)
	var victims []*corev1.Pod
	// reprieve puts p back if the pod still fits with it.
	reprieve := func(p *corev1.Pod) (bool, *framework.Status) {
		ni.AddPod(p)
		if st := s.profile.addPodExtensions(ctx, state, pod, p, ni); !st.IsSuccess() {
			return false, st
		}
		if s.profile.filterWithNominated(ctx, vc, ni).IsSuccess() {
			return true, nil
		}
		ni.RemovePod(p)
		if st := s.profile.removePodExtensions(ctx, state, pod, p, ni); !st.IsSuccess() {
			return false, st
		}
		victims = append(victims, p)
		return false, nil
	}
	violations := 0
	for _, p := range violating {
		fits, st := reprieve(p)
		if st != nil {
			return nil, 0, st
		}
		if !fits {
			violations++
		}
	}
	for _, p := range nonViolating {
		if _, st := reprieve(p); st != nil {
			return nil, 0, st
		}
	}
	if len(violating) != 0 && len(nonViolating) != 0 {
		sort.SliceStable(victims, func(i, j int) bool { return moreImportant(victims[i], victims[j], now) })
	}
	return victims, violations, nil
}
