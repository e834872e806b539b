package sim

import (
	"context"
	"maps"

	"mini.dev/mini/internal/runtime"
)

// ContainerEvents implements runtime.EventSource.
func (r *Runtime) ContainerEvents(ctx context.Context) <-chan runtime.ContainerEvent {
	return r.events.ContainerEvents(ctx)
}

// emitLocked tells every subscriber of c's new state without blocking.
func (r *Runtime) emitLocked(c *container) {
	if !r.events.Subscribed() {
		return
	}
	r.events.Emit(runtime.ContainerEvent{
		ContainerID: c.status.ID, SandboxID: c.status.SandboxID,
		State: c.status.State, Labels: maps.Clone(c.status.Labels),
	})
}
