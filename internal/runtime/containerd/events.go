package containerd

import (
	"context"
	"strconv"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/typeurl/v2"

	"mini.dev/mini/internal/runtime"
)

// ContainerEvents implements runtime.EventSource.
func (r *Runtime) ContainerEvents(ctx context.Context) <-chan runtime.ContainerEvent {
	return r.events.ContainerEvents(ctx)
}

// emit tells every subscriber of a container's new state without
// blocking.
func (r *Runtime) emit(id string, state runtime.ContainerState, labels map[string]string) {
	if !r.events.Subscribed() {
		return
	}
	r.events.Emit(runtime.ContainerEvent{ContainerID: id, SandboxID: labels[labelSandbox], State: state, Labels: userLabels(labels)})
}

// followEvents records container exits and OOM kills from containerd's
// event stream until ctx ends, subscribing again (and catching up on
// what it missed) whenever the stream breaks, e.g. as containerd
// restarts.
func (r *Runtime) followEvents(ctx context.Context) {
	ns := strconv.Quote(r.cfg.Namespace)
	delay := minRestartDelay
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx)
		envs, errs := r.client.Subscribe(sctx,
			`namespace==`+ns+`,topic=="/tasks/exit"`, `namespace==`+ns+`,topic=="/tasks/oom"`)
		// Subscribed first, so that no exit falls between the two.
		if err := r.reconcile(ctx); err != nil {
			r.log.Warn("catching up with containers", "err", err)
		} else {
			delay = minRestartDelay
		}
	stream:
		for {
			select {
			case <-ctx.Done():
				break stream
			case err := <-errs:
				if ctx.Err() == nil {
					r.log.Warn("containerd event stream broke", "err", err)
				}
				break stream
			case env := <-envs:
				r.handleEvent(ctx, env.Event)
			}
		}
		cancel()
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(delay*2, maxRestartDelay)
	}
}

func (r *Runtime) handleEvent(ctx context.Context, any typeurl.Any) {
	if any == nil {
		return
	}
	v, err := typeurl.UnmarshalAny(any)
	if err != nil {
		r.log.Debug("undecodable event", "err", err)
		return
	}
	switch e := v.(type) {
	case *apievents.TaskOOM:
		r.mu.Lock()
		r.oom[e.ContainerID] = true
		r.mu.Unlock()
	case *apievents.TaskExit:
		if e.ID != e.ContainerID {
			return // an exec'd process
		}
		at := time.Now()
		if e.ExitedAt != nil {
			at = e.ExitedAt.AsTime()
		}
		go func() {
			if err := r.recordExit(context.WithoutCancel(ctx), e.ContainerID, e.ExitStatus, at); err != nil {
				r.log.Debug("recording an exit", "id", e.ContainerID, "err", err)
			}
		}()
	}
}

// reconcile brings this process up to date with containerd: it reads on
// from the FIFOs of running containers and records exits it missed.
func (r *Runtime) reconcile(ctx context.Context) error {
	_, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	recs, err := r.client.ContainerService().List(nctx, containerFilter)
	if err != nil {
		return err
	}
	tasks, err := r.taskStates(nctx)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		task := tasks[rec.ID]
		if task == nil || rec.Labels[labelFinished] != "" {
			continue
		}
		r.mu.Lock()
		_, attached := r.ios[rec.ID]
		r.mu.Unlock()
		if !attached && task.Status != tasktypes.Status_STOPPED {
			if _, err := r.openIO(rec.ID, rec.Labels); err != nil {
				r.log.Warn("re-attaching to a container's output", "id", rec.ID, "err", err)
			}
		}
		if task.Status == tasktypes.Status_STOPPED {
			at := time.Now()
			if task.ExitedAt != nil {
				at = task.ExitedAt.AsTime()
			}
			go func() {
				if err := r.recordExit(context.WithoutCancel(ctx), rec.ID, task.ExitStatus, at); err != nil {
					r.log.Debug("recording an exit", "id", rec.ID, "err", err)
				}
			}()
		}
	}
	return nil
}
