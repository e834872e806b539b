package scheduler

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// ErrNoNodesAvailable is returned by a cycle when the cluster has no
// nodes at all; upstream words it the same.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// Diagnosis records why each node was rejected in one cycle.
type Diagnosis struct {
	// NodeToStatus holds the verdict of each node that was filtered.
	NodeToStatus map[string]*framework.Status
	// AbsentStatus applies to nodes missing from NodeToStatus (set when a
	// PreFilter rejected the pod, or for nodes preemption did not try).
	AbsentStatus *framework.Status
	// PreFilterMsg is the message of a PreFilter that rejected the pod.
	PreFilterMsg string
	// PostFilterMsg is what preemption said when it could not help.
	PostFilterMsg string
}

// statusOf returns a node's verdict.
func (d *Diagnosis) statusOf(node string) *framework.Status {
	if s, ok := d.NodeToStatus[node]; ok {
		return s
	}
	return d.AbsentStatus
}

// FitError is the error of a cycle in which no node fits.
type FitError struct {
	Pod         *corev1.Pod
	NumAllNodes int
	Diagnosis   Diagnosis
}

// Error renders the message kubectl users know, e.g. "0/3 nodes are
// available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu.
// preemption: 0/3 nodes are available: 3 No preemption victims found for
// incoming pod.": identical reasons are counted across nodes, rendered as
// "<count> <reason>" and sorted as strings, as upstream does.
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%v nodes are available:", f.NumAllNodes)
	d := &f.Diagnosis
	if d.PreFilterMsg != "" {
		msg += fmt.Sprintf(" %v.", d.PreFilterMsg)
	} else {
		counts := map[string]int{}
		for _, s := range d.NodeToStatus {
			if s == nil {
				continue
			}
			for _, r := range s.Reasons {
				counts[r]++
			}
		}
		if absent := f.NumAllNodes - len(d.NodeToStatus); absent > 0 && d.AbsentStatus != nil {
			for _, r := range d.AbsentStatus.Reasons {
				counts[r] += absent
			}
		}
		reasons := make([]string, 0, len(counts))
		for r, n := range counts {
			reasons = append(reasons, fmt.Sprintf("%v %v", n, r))
		}
		sort.Strings(reasons)
		if len(reasons) > 0 {
			msg += fmt.Sprintf(" %v.", strings.Join(reasons, ", "))
		}
	}
	// The preemption message is a sentence of its own, full stop
	// included ("preemption: 0/3 nodes are available: ...").
	if d.PostFilterMsg != "" {
		msg += " " + d.PostFilterMsg
	}
	return msg
}
