package scheduler

import "container/heap"

// podHeap is a heap of queued pods under a given order, with each pod's
// position kept in the pod so that updates and removals are O(log n).
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index = i
	h.items[j].index = j
}
func (h *podHeap) Push(x any) {
	p := x.(*queuedPod)
	p.index = len(h.items)
	h.items = append(h.items, p)
}
func (h *podHeap) Pop() any {
	n := len(h.items)
	p := h.items[n-1]
	h.items[n-1] = nil
	h.items = h.items[:n-1]
	p.index = -1
	return p
}

func (h *podHeap) add(p *queuedPod)    { heap.Push(h, p) }
func (h *podHeap) fix(p *queuedPod)    { heap.Fix(h, p.index) }
func (h *podHeap) remove(p *queuedPod) { heap.Remove(h, p.index) }
func (h *podHeap) peek() *queuedPod {
	if len(h.items) == 0 {
		return nil
	}
	return h.items[0]
}
