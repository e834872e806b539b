package agent

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	"mini.dev/mini/internal/runtime"
)

// pleg is kubelet's pod lifecycle event generator: a container that
// changed state queues its pod. Runtimes that push events (EventSource)
// are heard at once; a relist every Timing.Relist catches what events
// missed (and is the only source for runtimes without events), and
// queues every known pod, kubelet's periodic resync.
func (a *Agent) pleg(ctx context.Context) {
	var events <-chan runtime.ContainerEvent
	if es, ok := a.rt.(runtime.EventSource); ok {
		events = es.ContainerEvents(ctx)
	}
	seen := map[string]runtime.ContainerState{}
	a.relist(ctx, seen, false)
	t := a.clock.NewTicker(a.cfg.Timing.Relist)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if uid := ev.Labels[runtime.LabelPodUID]; uid != "" {
				a.queue.Add(types.UID(uid))
			}
		case <-t.C():
			a.relist(ctx, seen, true)
			if events != nil {
				a.enqueueAll()
			}
		}
	}
}

// relist queues the pods whose containers changed state since the last
// relist.
func (a *Agent) relist(ctx context.Context, seen map[string]runtime.ContainerState, notify bool) {
	cs, err := a.rt.ListContainers(ctx, nil)
	if err != nil {
		a.log.Warn("relisting containers", "err", err)
		return
	}
	live := make(map[string]bool, len(cs))
	for _, c := range cs {
		live[c.ID] = true
		if seen[c.ID] != c.State {
			seen[c.ID] = c.State
			if notify {
				a.queue.Add(types.UID(c.Labels[runtime.LabelPodUID]))
			}
		}
	}
	for id := range seen {
		if !live[id] {
			delete(seen, id)
		}
	}
}
