package runtime

import (
	"context"
	"sync"
)

// eventBuffer is how many events a slow subscriber may fall behind before
// further ones are dropped; the agent's periodic relist repairs a drop.
const eventBuffer = 256

// EventFanout hands container events to every subscriber without ever
// blocking the backend that emits them. Backends embed one to implement
// EventSource. The zero value is ready to use.
type EventFanout struct {
	mu   sync.Mutex
	subs map[chan ContainerEvent]struct{}
}

// ContainerEvents implements EventSource. It starts no goroutine: the
// subscription ends, and the channel closes, when ctx does.
func (f *EventFanout) ContainerEvents(ctx context.Context) <-chan ContainerEvent {
	ch := make(chan ContainerEvent, eventBuffer)
	f.mu.Lock()
	if f.subs == nil {
		f.subs = map[chan ContainerEvent]struct{}{}
	}
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		delete(f.subs, ch)
		close(ch)
		f.mu.Unlock()
	})
	return ch
}

// Subscribed reports whether anyone listens, so that an emitter can skip
// building an event nobody reads.
func (f *EventFanout) Subscribed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs) > 0
}

// Emit gives ev to every subscriber that has room for it.
func (f *EventFanout) Emit(ev ContainerEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}
