package prober

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// worker runs one probe of one container instance until its context
// ends, the probe asks for a kill (liveness, startup) or, for a startup
// probe, the container started.
type worker struct {
	m         *Manager
	uid       types.UID
	container *corev1.Container
	cp        *containerProbes
	kind      probeType
	spec      *corev1.Probe
	trigger   chan struct{}

	// lastResult and resultRun count equal results in a row, for the
	// thresholds.
	lastResult result
	resultRun  int
}

func (w *worker) run(ctx context.Context) {
	if w.kind != startup {
		// Liveness and readiness wait for the startup probe, as kubelet's
		// workers skip their ticks until the container started.
		select {
		case <-ctx.Done():
			return
		case <-w.cp.startedCh:
		}
	}
	// The first probe comes once the initial delay since the container
	// started has passed (at once when it already has), then one every
	// period, counted from the start of each probe.
	wait := w.cp.startedAt.Add(time.Duration(w.spec.InitialDelaySeconds) * time.Second).Sub(w.m.clock.Now())
	period := time.Duration(w.spec.PeriodSeconds) * time.Second
	for {
		if wait > 0 {
			t := w.m.clock.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C():
			case <-w.trigger:
				t.Stop()
			}
		}
		begin := w.m.clock.Now()
		if !w.probeOnce(ctx) {
			return
		}
		wait = period - w.m.clock.Since(begin)
	}
}

// probeOnce runs one probe and applies its result; false ends the
// worker.
func (w *worker) probeOnce(ctx context.Context) bool {
	pod := w.m.currentPod(w.uid)
	if pod == nil || ctx.Err() != nil {
		return false
	}
	res, ok := w.m.probe(ctx, w.kind, pod, w.container, w.cp.id, w.spec)
	if ctx.Err() != nil {
		return false
	}
	if !ok {
		// The probe errored (or could not run yet): no result, as kubelet
		// throws errored results away.
		return true
	}
	if res == warning {
		res = success
	}
	if res == w.lastResult {
		w.resultRun++
	} else {
		w.lastResult, w.resultRun = res, 1
	}
	if (res == failure && w.resultRun < int(w.spec.FailureThreshold)) ||
		(res == success && w.resultRun < int(w.spec.SuccessThreshold)) {
		return true
	}
	changed, keepGoing := w.apply(ctx, res)
	if changed {
		w.m.onChange(w.uid)
	}
	return keepGoing
}

// apply records a result that passed its threshold; it reports whether
// the container's results changed and whether the worker goes on.
func (w *worker) apply(ctx context.Context, res result) (changed, keepGoing bool) {
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if ctx.Err() != nil {
		// Stopped meanwhile: the container is gone or being deleted.
		return false, false
	}
	cp := w.cp
	switch w.kind {
	case readiness:
		ready := res == success
		changed, cp.ready = cp.ready != ready, ready
		return changed, true
	case startup:
		if res == success {
			cp.markStarted()
			return true, false
		}
	}
	if res == success {
		return false, true
	}
	// A failed liveness or startup probe: the container is killed; this
	// worker holds until a new container (and so a new worker) replaces
	// it, as kubelet's onHold.
	kind := w.kind
	cp.failed, cp.failedMsg = &kind, killMessage(cp.name, kind)
	return true, false
}
