package containerd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	ctrd "github.com/containerd/containerd"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/containerd/errdefs"

	"mini.dev/mini/internal/runtime"
)

// Exit codes and reasons kubelet shows, for exits containerd does not
// report itself.
const (
	// exitStartError is what containerd's CRI plugin records for a
	// container whose process could not be started.
	exitStartError int32 = 128
	// exitUnknown is for a container whose task vanished without an exit
	// being recorded (the host rebooted, the shim was killed).
	exitUnknown int32 = 255

	reasonCompleted  = "Completed"
	reasonError      = "Error"
	reasonOOMKilled  = "OOMKilled"
	reasonStartError = "StartError"
	reasonUnknown    = "Unknown"
)

// CreateContainer implements runtime.Runtime.
func (r *Runtime) CreateContainer(ctx context.Context, sandboxID string, cfg *runtime.ContainerConfig, _ *runtime.PodSandboxConfig) (string, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return "", err
	}
	if cfg == nil {
		return "", fmt.Errorf("containerd: nil container config: %w", runtime.ErrInvalidState)
	}
	sb, err := r.sandboxRecord(ctx, sandboxID)
	if err != nil {
		return "", err
	}
	if sb.Labels[labelState] != string(runtime.SandboxReady) {
		return "", fmt.Errorf("containerd: sandbox %s is not ready: %w", sandboxID, runtime.ErrInvalidState)
	}
	img, err := r.image(nctx, cfg.Image)
	if err != nil {
		return "", err
	}
	imgCfg, err := imageConfig(nctx, img)
	if err != nil {
		return "", err
	}
	if ok, err := img.IsUnpacked(nctx, r.snapshotter); err != nil || !ok {
		if err := img.Unpack(nctx, r.snapshotter); err != nil {
			return "", fmt.Errorf("containerd: unpacking %s: %w", img.Name(), err)
		}
	}
	id := newID()
	specOpts, err := containerSpecOpts(id, imgCfg, specSandbox{
		uid: sb.Labels[labelUID], hostname: sb.Labels[labelHostname], netns: sb.Labels[labelNetNS],
		hostNetwork: sb.Labels[labelHostNetwork] == "true",
	}, cfg)
	if err != nil {
		return "", fmt.Errorf("containerd: container %s: %w", cfg.Name, err)
	}
	logPath := ""
	if cfg.LogPath != "" && sb.Labels[labelLogDir] != "" {
		logPath = filepath.Join(sb.Labels[labelLogDir], cfg.LogPath)
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return "", fmt.Errorf("containerd: log directory: %w", err)
		}
	}
	labels := maps.Clone(cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, map[string]string{
		labelKind: kindContainer, labelSandbox: sandboxID, labelUID: sb.Labels[labelUID], labelCName: cfg.Name,
		labelAttempt: strconv.FormatUint(uint64(cfg.Attempt), 10), labelCreated: formatTime(time.Now()),
		labelImage: img.Name(), labelImageRef: imageRef(img.Name(), img.Target().Digest.String()),
		labelLogPath: logPath, labelStdin: strconv.FormatBool(cfg.Stdin),
		labelStdinOnce: strconv.FormatBool(cfg.StdinOnce), labelTTY: strconv.FormatBool(cfg.TTY),
	})
	_, err = client.NewContainer(nctx, id,
		ctrd.WithImage(img), ctrd.WithSnapshotter(r.snapshotter), ctrd.WithNewSnapshot(id, img),
		ctrd.WithNewSpec(specOpts...), ctrd.WithContainerLabels(labels), ctrd.WithRuntime(runcRuntime, nil))
	if err != nil {
		return "", fmt.Errorf("containerd: creating container %s: %w", cfg.Name, err)
	}
	r.emit(id, runtime.ContainerCreated, labels)
	return id, nil
}

// containerRecord returns a container's record.
func (r *Runtime) containerRecord(ctx context.Context, id string) (*containers.Container, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := client.ContainerService().Get(nctx, id)
	if errdefs.IsNotFound(err) || err == nil && rec.Labels[labelKind] != kindContainer {
		return nil, fmt.Errorf("containerd: container %s: %w", id, runtime.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("containerd: container %s: %w", id, err)
	}
	return &rec, nil
}

// StartContainer implements runtime.Runtime: it creates the container's
// task (runc create) with its stdio on FIFOs this process reads, then
// starts it. A process that cannot start is recorded as exited with
// StartError, as containerd's CRI plugin does.
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	rec, err := r.containerRecord(ctx, id)
	if err != nil {
		return err
	}
	if rec.Labels[labelStarted] != "" || rec.Labels[labelFinished] != "" {
		return fmt.Errorf("containerd: container %s was started before: %w", id, runtime.ErrInvalidState)
	}
	c, err := client.LoadContainer(nctx, id)
	if err != nil {
		return fmt.Errorf("containerd: container %s: %w", id, err)
	}
	tio, err := r.openIO(id, rec.Labels)
	if err != nil {
		return err
	}
	task, err := c.NewTask(nctx, func(string) (cio.IO, error) { return tio.io(), nil })
	if err == nil {
		err = task.Start(nctx)
	}
	if err != nil {
		r.startFailed(context.WithoutCancel(nctx), id, task, tio, err)
		return fmt.Errorf("containerd: starting container %s: %w", rec.Labels[labelCName], err)
	}
	// Labelled only now: a started container without a task is one whose
	// task vanished (see statusFromRecord).
	if err := r.setLabels(ctx, id, map[string]string{labelStarted: formatTime(time.Now())}); err != nil {
		return err
	}
	r.emit(id, runtime.ContainerRunning, rec.Labels)
	return nil
}

// startFailed records a container that could not start as exited.
func (r *Runtime) startFailed(ctx context.Context, id string, task ctrd.Task, tio *taskIO, startErr error) {
	if task != nil {
		_, _ = task.Delete(ctx, ctrd.WithProcessKill)
	}
	r.mu.Lock()
	delete(r.ios, id)
	r.mu.Unlock()
	tio.close()
	msg := startErr.Error()
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	now := formatTime(time.Now())
	err := r.setLabels(ctx, id, map[string]string{labelFinished: now, labelExitCode: strconv.Itoa(int(exitStartError)),
		labelReason: reasonStartError, labelMessage: msg})
	if err != nil {
		r.log.Warn("recording a start failure", "id", id, "err", err)
	}
	if rec, err := r.containerRecord(ctx, id); err == nil {
		r.emit(id, runtime.ContainerExited, rec.Labels)
	}
}

// StopContainer implements runtime.Runtime: SIGTERM, then SIGKILL after
// timeout. It returns once the exit is recorded.
func (r *Runtime) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	if _, err := r.containerRecord(ctx, id); err != nil {
		return err
	}
	c, err := client.LoadContainer(nctx, id)
	if err != nil {
		return fmt.Errorf("containerd: container %s: %w", id, err)
	}
	task, err := c.Task(nctx, nil)
	if errdefs.IsNotFound(err) {
		return nil // never started, or its exit is recorded already
	}
	if err != nil {
		return fmt.Errorf("containerd: task of %s: %w", id, err)
	}
	exited, err := task.Wait(nctx)
	if err != nil {
		return fmt.Errorf("containerd: waiting for %s: %w", id, err)
	}
	if timeout > 0 {
		if err := task.Kill(nctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("containerd: stopping %s: %w", id, err)
		}
		t := time.NewTimer(timeout)
		defer t.Stop()
		select {
		case st := <-exited:
			return r.recordExit(context.WithoutCancel(nctx), id, st.ExitCode(), st.ExitTime())
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := task.Kill(nctx, syscall.SIGKILL, ctrd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: killing %s: %w", id, err)
	}
	select {
	case st := <-exited:
		return r.recordExit(context.WithoutCancel(nctx), id, st.ExitCode(), st.ExitTime())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RemoveContainer implements runtime.Runtime.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	return r.removeContainer(ctx, id, false)
}

// removeContainer removes a container; a running one only when kill says
// so (a sandbox being removed).
func (r *Runtime) removeContainer(ctx context.Context, id string, kill bool) error {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return err
	}
	rec, err := r.containerRecord(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := client.LoadContainer(nctx, id)
	if err != nil {
		return fmt.Errorf("containerd: container %s: %w", id, err)
	}
	if task, err := c.Task(nctx, nil); err == nil {
		st, err := task.Status(nctx)
		if err != nil {
			return fmt.Errorf("containerd: task of %s: %w", id, err)
		}
		switch {
		case st.Status == ctrd.Stopped:
			if err := r.recordExit(nctx, id, st.ExitStatus, st.ExitTime); err != nil {
				return err
			}
		case kill:
			if err := r.StopContainer(ctx, id, 0); err != nil {
				return err
			}
		default:
			return fmt.Errorf("containerd: container %s is running: %w", id, runtime.ErrInvalidState)
		}
	}
	if err := c.Delete(nctx, ctrd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("containerd: removing container %s: %w", id, err)
	}
	r.removeFIFOs(id)
	r.mu.Lock()
	delete(r.annotations, id)
	delete(r.oom, id)
	r.mu.Unlock()
	_ = rec
	return nil
}

// ListContainers implements runtime.Runtime: one list of records and one
// of tasks, however many containers there are.
func (r *Runtime) ListContainers(ctx context.Context, f *runtime.ContainerFilter) ([]*runtime.Container, error) {
	client, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	filter := containerFilter
	if f != nil && f.ID != "" {
		filter += ",id==" + f.ID
	}
	if f != nil && f.SandboxID != "" {
		filter += `,labels."` + labelSandbox + `"==` + f.SandboxID
	}
	recs, err := client.ContainerService().List(nctx, filter)
	if err != nil {
		return nil, fmt.Errorf("containerd: listing containers: %w", err)
	}
	tasks, err := r.taskStates(nctx)
	if err != nil {
		return nil, err
	}
	var out []*runtime.Container
	for i := range recs {
		st := r.statusFromRecord(&recs[i], tasks[recs[i].ID])
		if f != nil && (f.State != "" && f.State != st.State || !runtime.MatchLabels(f.LabelSelector, st.Labels)) {
			continue
		}
		c := st.Container
		out = append(out, &c)
	}
	return out, nil
}

// taskStates lists every task in the namespace.
func (r *Runtime) taskStates(ctx context.Context) (map[string]*tasktypes.Process, error) {
	resp, err := r.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return nil, fmt.Errorf("containerd: listing tasks: %w", err)
	}
	out := make(map[string]*tasktypes.Process, len(resp.Tasks))
	for _, t := range resp.Tasks {
		out[t.ID] = t
	}
	return out, nil
}

// ContainerStatus implements runtime.Runtime.
func (r *Runtime) ContainerStatus(ctx context.Context, id string) (*runtime.ContainerStatus, error) {
	_, nctx, err := r.conn(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := r.containerRecord(ctx, id)
	if err != nil {
		return nil, err
	}
	var task *tasktypes.Process
	if rec.Labels[labelFinished] == "" {
		resp, err := r.client.TaskService().Get(nctx, &tasksapi.GetRequest{ContainerID: id})
		switch {
		case err == nil:
			task = resp.Process
		case !errdefs.IsNotFound(errdefs.FromGRPC(err)):
			return nil, fmt.Errorf("containerd: task of %s: %w", id, err)
		}
		if task != nil && task.Status == tasktypes.Status_STOPPED {
			// Record the exit now rather than report a status whose
			// reason and log may still change.
			at := time.Now()
			if task.ExitedAt != nil {
				at = task.ExitedAt.AsTime()
			}
			if err := r.recordExit(nctx, id, task.ExitStatus, at); err != nil {
				return nil, err
			}
			if rec, err = r.containerRecord(ctx, id); err != nil {
				return nil, err
			}
			task = nil
		}
	}
	return r.statusFromRecord(rec, task), nil
}

// statusFromRecord derives a container's status from its labels and, until
// its exit is recorded, its task.
func (r *Runtime) statusFromRecord(rec *containers.Container, task *tasktypes.Process) *runtime.ContainerStatus {
	l := rec.Labels
	st := &runtime.ContainerStatus{
		Container: runtime.Container{
			ID: rec.ID, SandboxID: l[labelSandbox], Name: l[labelCName], Attempt: parseUint32(l[labelAttempt]),
			Image: l[labelImage], ImageRef: l[labelImageRef], State: runtime.ContainerCreated,
			CreatedAt: parseTime(l[labelCreated]), Labels: userLabels(l), Annotations: r.cachedAnnotations(rec),
		},
		StartedAt: parseTime(l[labelStarted]),
		LogPath:   l[labelLogPath],
	}
	switch {
	case l[labelFinished] != "":
		code, _ := strconv.Atoi(l[labelExitCode])
		st.State, st.FinishedAt, st.ExitCode = runtime.ContainerExited, parseTime(l[labelFinished]), int32(code)
		st.Reason, st.Message = l[labelReason], l[labelMessage]
	case task != nil && task.Status == tasktypes.Status_RUNNING, task != nil && task.Status == tasktypes.Status_PAUSED:
		st.State = runtime.ContainerRunning
	case task != nil && task.Status == tasktypes.Status_STOPPED:
		// Exited; Run records it in a moment.
		st.State, st.ExitCode = runtime.ContainerExited, int32(task.ExitStatus)
		if task.ExitedAt != nil {
			st.FinishedAt = task.ExitedAt.AsTime()
		}
		r.mu.Lock()
		oom := r.oom[rec.ID]
		r.mu.Unlock()
		st.Reason = exitReason(st.ExitCode, oom || containerOOMKilled(l[labelUID], rec.ID))
	case task != nil:
		st.State = runtime.ContainerCreated
	case l[labelStarted] != "":
		// Started, but its task is gone with no exit recorded.
		st.State, st.ExitCode, st.Reason = runtime.ContainerExited, exitUnknown, reasonUnknown
	}
	return st
}

func exitReason(code int32, oom bool) string {
	switch {
	case oom:
		return reasonOOMKilled
	case code == 0:
		return reasonCompleted
	}
	return reasonError
}

// recordExit writes a container's exit into its labels, once, after its
// output is in the log, and deletes its task (and so its shim).
func (r *Runtime) recordExit(ctx context.Context, id string, code uint32, at time.Time) error {
	r.mu.Lock()
	if ch, busy := r.exiting[id]; busy {
		r.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	done := make(chan struct{})
	r.exiting[id] = done
	tio := r.ios[id]
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.exiting, id)
		r.mu.Unlock()
		close(done)
	}()

	rec, err := r.containerRecord(ctx, id)
	if err != nil {
		return err
	}
	if rec.Labels[labelFinished] == "" {
		if tio != nil {
			tio.waitDrained(drainTimeout)
		}
		r.mu.Lock()
		oom := r.oom[id]
		r.mu.Unlock()
		oom = oom || containerOOMKilled(rec.Labels[labelUID], id)
		if at.IsZero() {
			at = time.Now()
		}
		labels := map[string]string{labelFinished: formatTime(at), labelExitCode: strconv.Itoa(int(int32(code))),
			labelReason: exitReason(int32(code), oom)}
		if err := r.setLabels(ctx, id, labels); err != nil {
			return err
		}
		maps.Copy(rec.Labels, labels)
	}
	client, nctx, _ := r.conn(ctx)
	if c, err := client.LoadContainer(nctx, id); err == nil {
		if task, err := c.Task(nctx, nil); err == nil {
			if _, err := task.Delete(nctx); err != nil && !errdefs.IsNotFound(err) {
				r.log.Warn("deleting an exited task", "id", id, "err", err)
			}
		}
	}
	r.mu.Lock()
	delete(r.ios, id)
	r.mu.Unlock()
	if tio != nil {
		tio.close()
	}
	r.emit(id, runtime.ContainerExited, rec.Labels)
	return nil
}
