package sim

import (
	"context"
	"maps"

	"mini.dev/mini/internal/runtime"
)

// eventBuffer is how many events a slow subscriber may fall behind before
// further ones are dropped; the agent's periodic relist repairs a drop.
const eventBuffer = 256

type subscriber struct {
	ch chan runtime.ContainerEvent
}

// ContainerEvents implements runtime.EventSource. It starts no goroutine:
// the subscription ends, and the channel closes, when ctx does.
func (r *Runtime) ContainerEvents(ctx context.Context) <-chan runtime.ContainerEvent {
	s := &subscriber{ch: make(chan runtime.ContainerEvent, eventBuffer)}
	r.mu.Lock()
	r.subs[s] = struct{}{}
	r.mu.Unlock()
	context.AfterFunc(ctx, func() {
		r.mu.Lock()
		delete(r.subs, s)
		close(s.ch)
		r.mu.Unlock()
	})
	return s.ch
}

// emitLocked tells every subscriber of c's new state without blocking.
func (r *Runtime) emitLocked(c *container) {
	if len(r.subs) == 0 {
		return
	}
	ev := runtime.ContainerEvent{
		ContainerID: c.status.ID, SandboxID: c.status.SandboxID,
		State: c.status.State, Labels: maps.Clone(c.status.Labels),
	}
	for s := range r.subs {
		select {
		case s.ch <- ev:
		default:
		}
	}
}
