package endpoints

import (
	"math"

	corev1 "k8s.io/api/core/v1"
)

const (
	// maxCapacity is the most addresses an Endpoints holds; beyond it
	// consumers must read EndpointSlices.
	maxCapacity = 1000
	// truncated is the value of endpoints.kubernetes.io/over-capacity on
	// an Endpoints cut down to maxCapacity.
	truncated = "truncated"
)

// truncate cuts ep down to maxCapacity addresses and reports whether it
// had to. Ready addresses are kept before not-ready ones; each subset
// keeps its share of what is kept, rounded up, as upstream distributes
// them.
func truncate(ep *corev1.Endpoints) bool {
	ready, notReady := 0, 0
	for _, ss := range ep.Subsets {
		ready += len(ss.Addresses)
		notReady += len(ss.NotReadyAddresses)
	}
	if ready+notReady <= maxCapacity {
		return false
	}
	truncateReady := ready > maxCapacity
	budget, total := maxCapacity-ready, notReady
	if truncateReady {
		budget, total = maxCapacity, ready
	}
	left := budget
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		n := len(ss.NotReadyAddresses)
		if truncateReady {
			n = len(ss.Addresses)
		}
		share := min(int(math.Ceil(float64(n)/float64(total)*float64(budget))), left)
		if truncateReady {
			ss.Addresses = ss.Addresses[:min(share, len(ss.Addresses))]
			ss.NotReadyAddresses = nil
			left -= len(ss.Addresses)
		} else {
			ss.NotReadyAddresses = ss.NotReadyAddresses[:min(share, len(ss.NotReadyAddresses))]
			left -= len(ss.NotReadyAddresses)
		}
	}
	// A subset left without addresses is invalid.
	kept := ep.Subsets[:0]
	for _, ss := range ep.Subsets {
		if len(ss.Addresses)+len(ss.NotReadyAddresses) > 0 {
			kept = append(kept, ss)
		}
	}
	ep.Subsets = kept
	return true
}
