package agent

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/runtime"
)

// syncPod brings the runtime in line with one pod, level-based: it reads
// the pod and the runtime afresh each time. It returns how long to wait
// before syncing again (a back-off expiring), or zero.
func (a *Agent) syncPod(ctx context.Context, uid types.UID) (time.Duration, error) {
	if uid == "" {
		return 0, nil // a runtime object without our labels is not ours
	}
	pod, _ := a.entry(uid)
	pr, err := a.inspect(ctx, uid)
	if err != nil {
		return 0, err
	}
	switch {
	case pod == nil:
		// Gone from the API (or never known: a leftover of an earlier
		// run): nothing to report, only to clean up.
		if err := a.teardown(ctx, nil, pr, 0); err != nil {
			return 0, err
		}
		if err := a.releasePod(uid, pr, true); err != nil {
			return 0, err
		}
		a.forget(uid)
		return 0, nil
	case pod.DeletionTimestamp != nil:
		return 0, a.terminate(ctx, pod, pr)
	case isTerminal(pod.Status.Phase):
		// The phase is final: stop what still runs and free the pod's
		// network, but keep its last containers (and so their logs)
		// until the pod is deleted, as kubelet does.
		if err := a.stopAll(ctx, pod, pr, gracePeriod(pod)); err != nil {
			return 0, err
		}
		a.ipam.release(uid)
		return 0, a.releasePod(uid, nil, false)
	}
	return a.syncActive(ctx, pod, pr)
}

func isTerminal(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }

// syncActive runs a pod that is neither deleted nor finished.
func (a *Agent) syncActive(ctx context.Context, pod *corev1.Pod, pr *podRuntime) (time.Duration, error) {
	waiting := map[string]*corev1.ContainerStateWaiting{}
	var requeue time.Duration
	var syncErr error
	sb := pr.readySandbox()
	networkReady := pod.Spec.HostNetwork || a.ipam.hasCIDR()
	// A Never pod whose sandbox died after its containers ran is not
	// started again (kubelet's computePodActions).
	restartable := len(pr.sandboxes) == 0 || pod.Spec.RestartPolicy != corev1.RestartPolicyNever || len(pr.byName) == 0
	if (sb == nil && networkReady && restartable) || (sb != nil && pr.needsStart(pod, sb)) {
		select {
		case a.starts <- struct{}{}:
			defer func() { <-a.starts }()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if sb == nil && networkReady && restartable {
		sb, syncErr = a.runSandbox(ctx, pod, pr)
	}
	if sb != nil {
		mounts, err := a.podMounts(ctx, pod, sb)
		if err != nil {
			syncErr = err
		} else {
			requeue, syncErr = a.startContainers(ctx, pod, sb, pr, mounts, waiting)
		}
		if pr, err = a.inspect(ctx, pod.UID); err != nil {
			return 0, err
		}
		a.syncProbes(pod, pr, sb)
	}
	status := a.podStatus(pod, pr, waiting, false)
	if err := a.writeStatus(ctx, pod, status); err != nil {
		return 0, errors.Join(syncErr, err)
	}
	return requeue, syncErr
}

// sandboxConfig is the sandbox a pod gets; it is rebuilt from the pod
// whenever a container is created in it.
func (a *Agent) sandboxConfig(pod *corev1.Pod, attempt uint32, ips []string) *runtime.PodSandboxConfig {
	labels := maps.Clone(pod.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[runtime.LabelPodName] = pod.Name
	labels[runtime.LabelPodNamespace] = pod.Namespace
	labels[runtime.LabelPodUID] = string(pod.UID)
	hostname := pod.Spec.Hostname
	if hostname == "" {
		hostname = pod.Name
	}
	if pod.Spec.HostNetwork {
		hostname = a.cfg.NodeName
	}
	cfg := &runtime.PodSandboxConfig{
		Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID), Attempt: attempt,
		Hostname: hostname, Labels: labels, Annotations: maps.Clone(pod.Annotations),
		RestartPolicy: string(pod.Spec.RestartPolicy), HostNetwork: pod.Spec.HostNetwork, IPs: ips,
		LogDirectory: a.logDirectory(pod),
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				cfg.PortMappings = append(cfg.PortMappings, runtime.PortMapping{
					Protocol: string(p.Protocol), ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIP: p.HostIP})
			}
		}
	}
	return cfg
}

func (a *Agent) runSandbox(ctx context.Context, pod *corev1.Pod, pr *podRuntime) (*runtime.PodSandbox, error) {
	var ips []string
	if !pod.Spec.HostNetwork {
		ip, err := a.ipam.allocate(pod.UID)
		if err != nil {
			return nil, fmt.Errorf("pod IP: %w", err)
		}
		ips = []string{ip}
	}
	attempt := uint32(0)
	if len(pr.sandboxes) > 0 {
		attempt = pr.sandboxes[0].Attempt + 1
	}
	id, err := a.rt.RunPodSandbox(ctx, a.sandboxConfig(pod, attempt, ips))
	if err != nil {
		a.rec.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		return nil, fmt.Errorf("run sandbox: %w", err)
	}
	sb, err := a.rt.PodSandboxStatus(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sandbox status: %w", err)
	}
	return sb, nil
}

// startContainers is kubelet's computePodActions and its execution: init
// containers one at a time, each to success, then every container, each
// restarted as the restart policy says once its back-off allows.
func (a *Agent) startContainers(ctx context.Context, pod *corev1.Pod, sb *runtime.PodSandbox, pr *podRuntime,
	mounts map[string][]runtime.Mount, waiting map[string]*corev1.ContainerStateWaiting) (time.Duration, error) {
	var requeue time.Duration
	wait := func(d time.Duration) {
		if d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	var errs []error
	start := func(c *corev1.Container, typ string, attempt uint32) {
		if err := a.startContainer(ctx, pod, sb, c, typ, attempt, mounts[c.Name], waiting); err != nil {
			var bo *pullBackOff
			if errors.As(err, &bo) {
				wait(bo.left) // not a failure of this sync: a wait
				return
			}
			errs = append(errs, err)
		}
	}
	// current is the container's instance in this sandbox, if any.
	current := func(name string) *runtime.ContainerStatus {
		if l := pr.latest(name); l != nil && l.SandboxID == sb.ID {
			return l
		}
		return nil
	}

	initialized := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := current(c.Name)
		if isSidecar(c) {
			switch {
			case cur == nil:
				start(c, runtime.ContainerTypeSidecar, pr.nextAttempt(c.Name))
			case cur.State == runtime.ContainerCreated:
				errs = append(errs, a.startCreated(ctx, pod, c, cur))
			case cur.State == runtime.ContainerExited:
				if d, ok := a.mayRestart(pod, c, cur, waiting); ok {
					start(c, runtime.ContainerTypeSidecar, cur.Attempt+1)
				} else {
					wait(d)
				}
			}
			continue
		}
		if cur == nil {
			start(c, runtime.ContainerTypeInit, pr.nextAttempt(c.Name))
			initialized = false
			break
		}
		if cur.State == runtime.ContainerExited && cur.ExitCode == 0 {
			continue
		}
		initialized = false
		switch cur.State {
		case runtime.ContainerCreated:
			errs = append(errs, a.startCreated(ctx, pod, c, cur))
		case runtime.ContainerExited:
			// A failed init container fails a Never pod; otherwise it
			// is retried (OnFailure semantics, whatever the policy).
			if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				break
			}
			if d, ok := a.mayRestart(pod, c, cur, waiting); ok {
				start(c, runtime.ContainerTypeInit, cur.Attempt+1)
			} else {
				wait(d)
			}
		}
		break
	}
	if !initialized {
		return requeue, errors.Join(errs...)
	}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		cur := current(c.Name)
		switch {
		case cur == nil:
			start(c, runtime.ContainerTypeRegular, pr.nextAttempt(c.Name))
		case cur.State == runtime.ContainerCreated:
			errs = append(errs, a.startCreated(ctx, pod, c, cur))
		case cur.State == runtime.ContainerRunning:
			errs = append(errs, a.killIfUnhealthy(ctx, pod, c, cur))
		case cur.State == runtime.ContainerExited && shouldRestart(pod.Spec.RestartPolicy, cur.ExitCode):
			if d, ok := a.mayRestart(pod, c, cur, waiting); ok {
				start(c, runtime.ContainerTypeRegular, cur.Attempt+1)
			} else {
				wait(d)
			}
		}
	}
	return requeue, errors.Join(errs...)
}

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

// mayRestart applies the crash-loop back-off to an exited container. When
// it must wait, the container shows Waiting/CrashLoopBackOff and the
// remaining delay is returned.
func (a *Agent) mayRestart(pod *corev1.Pod, c *corev1.Container, cur *runtime.ContainerStatus,
	waiting map[string]*corev1.ContainerStateWaiting) (time.Duration, bool) {
	key := string(pod.UID) + "/" + c.Name
	if left, in := a.backOff.inBackOffSince(key, cur.FinishedAt); in {
		waiting[c.Name] = &corev1.ContainerStateWaiting{
			Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s",
				a.backOff.get(key), c.Name, formatPod(pod)),
		}
		a.rec.Eventf(containerRef(pod, c), corev1.EventTypeWarning, "BackOff",
			"Back-off restarting failed container %s in pod %s", c.Name, formatPod(pod))
		return left, false
	}
	a.backOff.next(key, cur.FinishedAt)
	return 0, true
}

// formatPod is kubelet's format.Pod: name_namespace(uid).
func formatPod(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// containerRef is the object kubelet's container events are about.
func containerRef(pod *corev1.Pod, c *corev1.Container) *corev1.ObjectReference {
	path := fmt.Sprintf("spec.containers{%s}", c.Name)
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			path = fmt.Sprintf("spec.initContainers{%s}", c.Name)
		}
	}
	return &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: path,
	}
}

// startCreated starts a container a previous sync created but did not
// start.
func (a *Agent) startCreated(ctx context.Context, pod *corev1.Pod, c *corev1.Container, cur *runtime.ContainerStatus) error {
	if err := a.rt.StartContainer(ctx, cur.ID); err != nil {
		a.rec.Eventf(containerRef(pod, c), corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	a.rec.Eventf(containerRef(pod, c), corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	return nil
}

// startContainer pulls the image as the pull policy says, then creates and
// starts one container instance.
func (a *Agent) startContainer(ctx context.Context, pod *corev1.Pod, sb *runtime.PodSandbox, c *corev1.Container,
	typ string, attempt uint32, mounts []runtime.Mount, waiting map[string]*corev1.ContainerStateWaiting) error {
	ref := containerRef(pod, c)
	if err := a.ensureImage(ctx, ref, c, waiting); err != nil {
		return err
	}
	if err := a.checkNonRoot(ctx, pod, c); err != nil {
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		a.rec.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return err
	}
	cfg := containerConfig(pod, c, typ, attempt)
	cfg.Mounts = mounts
	if a.cfg.Env != nil {
		env, err := a.cfg.Env(ctx, pod, c, sb.IPs)
		if err != nil {
			// kubelet's CreateContainerConfigError: the pod waits until
			// the referenced object appears.
			waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
			a.rec.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
			return fmt.Errorf("environment of %s: %w", c.Name, err)
		}
		cfg.Env = env
	}
	id, err := a.rt.CreateContainer(ctx, sb.ID, cfg, a.sandboxConfig(pod, sb.Attempt, sb.IPs))
	if err != nil {
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerError", Message: err.Error()}
		a.rec.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return fmt.Errorf("create %s: %w", c.Name, err)
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	if err := a.rt.StartContainer(ctx, id); err != nil {
		// The container is left exited with the runtime's reason
		// (StartError); kubelet shows RunContainerError until the
		// back-off restarts it.
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "RunContainerError", Message: err.Error()}
		a.rec.Eventf(ref, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	return a.postStart(ctx, pod, c, id)
}

// checkNonRoot applies runAsNonRoot; the image's user is asked for only
// when the check needs it.
func (a *Agent) checkNonRoot(ctx context.Context, pod *corev1.Pod, c *corev1.Container) error {
	if err := verifyRunAsNonRoot(pod, c, "0"); err == nil {
		return nil // not asked, or runAsUser decides: the image does not matter
	}
	user := ""
	if img, err := a.rt.ImageStatus(ctx, c.Image); err != nil {
		return fmt.Errorf("image %s: %w", c.Image, err)
	} else if img != nil {
		user = img.User
	}
	return verifyRunAsNonRoot(pod, c, user)
}

// pullBackOff says an image pull waits for its back-off to expire.
type pullBackOff struct{ left time.Duration }

func (e *pullBackOff) Error() string { return fmt.Sprintf("image pull backing off for %s", e.left) }

// ensureImage is kubelet's image manager: pull unless the policy and the
// image's presence say otherwise, with kubelet's events.
func (a *Agent) ensureImage(ctx context.Context, ref *corev1.ObjectReference, c *corev1.Container,
	waiting map[string]*corev1.ContainerStateWaiting) error {
	img, err := a.rt.ImageStatus(ctx, c.Image)
	if err != nil {
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "InvalidImageName", Message: err.Error()}
		a.rec.Eventf(ref, corev1.EventTypeWarning, "InspectFailed", "Failed to inspect image %q: %v", c.Image, err)
		return fmt.Errorf("image %s: %w", c.Image, err)
	}
	present := img != nil
	switch {
	case c.ImagePullPolicy == corev1.PullNever && !present:
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: msg}
		a.rec.Event(ref, corev1.EventTypeWarning, "ErrImageNeverPull", msg)
		return errors.New(msg)
	case present && c.ImagePullPolicy != corev1.PullAlways:
		a.rec.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Container image %q already present on machine", c.Image)
		return nil
	}
	// A failed pull is retried after kubelet's image back-off (10 s
	// doubling to 5 min), meanwhile the container shows ImagePullBackOff.
	backOffKey := string(ref.UID) + "/pull:" + c.Image
	if left, prev, in := a.backOff.inBackOffSinceUpdate(backOffKey); in {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		a.rec.Event(ref, corev1.EventTypeNormal, "BackOff", msg)
		if prev != "" {
			msg += ": " + prev
		}
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: msg}
		return &pullBackOff{left: left}
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	began := a.clock.Now()
	if _, err := a.rt.PullImage(ctx, c.Image, nil); err != nil {
		waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: err.Error()}
		a.rec.Eventf(ref, corev1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		a.rec.Event(ref, corev1.EventTypeWarning, "Failed", "Error: ErrImagePull")
		a.backOff.fail(backOffKey, "ErrImagePull: "+err.Error())
		return fmt.Errorf("pull %s: %w", c.Image, err)
	}
	took := a.clock.Since(began)
	var size uint64
	if img, err := a.rt.ImageStatus(ctx, c.Image); err == nil && img != nil {
		size = img.Size
	}
	a.rec.Eventf(ref, corev1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %s (%s including waiting). Image size: %d bytes.",
		c.Image, took, took, size)
	return nil
}

func containerConfig(pod *corev1.Pod, c *corev1.Container, typ string, attempt uint32) *runtime.ContainerConfig {
	cfg := &runtime.ContainerConfig{
		Name: c.Name, Attempt: attempt, Image: c.Image, Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir,
		Labels: map[string]string{
			runtime.LabelPodName: pod.Name, runtime.LabelPodNamespace: pod.Namespace, runtime.LabelPodUID: string(pod.UID),
			runtime.LabelContainerName: c.Name, runtime.LabelContainerType: typ,
		},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": fmt.Sprint(attempt)},
		Stdin:       c.Stdin, StdinOnce: c.StdinOnce, TTY: c.TTY,
		LogPath: fmt.Sprintf("%s/%d.log", c.Name, attempt),
	}
	cfg.Env = literalEnv(c)
	cfg.Security = securityConfig(pod, c)
	// cgroup values as kubelet derives them (shares from requests, quota
	// from limits over a 100 ms period).
	if q, ok := c.Resources.Requests[corev1.ResourceCPU]; ok {
		cfg.Resources.CPUShares = max(2, q.MilliValue()*1024/1000)
	}
	if q, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		cfg.Resources.CPUPeriod = 100000
		cfg.Resources.CPUQuota = q.MilliValue() * 100
	}
	if q, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		cfg.Resources.MemoryLimitInBytes = q.Value()
	}
	return cfg
}

// gracePeriod is how long containers get to stop: the deletion's grace
// period, else the pod's terminationGracePeriodSeconds, else 30 s.
func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// teardown stops every container and sandbox of the pod and removes
// them. pod may be nil (a pod gone from the API), then nothing is
// recorded.
func (a *Agent) teardown(ctx context.Context, pod *corev1.Pod, pr *podRuntime, grace time.Duration) error {
	if err := a.stopAll(ctx, pod, pr, grace); err != nil {
		return err
	}
	for _, sb := range pr.sandboxes {
		if err := a.rt.RemovePodSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return fmt.Errorf("remove sandbox: %w", err)
		}
	}
	// Containers whose sandbox is already gone.
	for _, insts := range pr.byName {
		for _, c := range insts {
			if err := a.rt.RemoveContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return fmt.Errorf("remove container: %w", err)
			}
		}
	}
	return nil
}

// stopAll stops running containers (Killing events, preStop hooks first,
// all containers at once as kubelet's killContainersWithSyncResult) and
// the sandboxes.
func (a *Agent) stopAll(ctx context.Context, pod *corev1.Pod, pr *podRuntime, grace time.Duration) error {
	var wg sync.WaitGroup
	n := 0
	for _, insts := range pr.byName {
		n += len(insts)
	}
	errs := make(chan error, n) // one slot per stop: no stop may block
	for name, insts := range pr.byName {
		for _, c := range insts {
			if c.State != runtime.ContainerRunning && c.State != runtime.ContainerCreated {
				continue
			}
			wg.Go(func() {
				left := grace
				if pod != nil && c.State == runtime.ContainerRunning {
					spec := specContainer(pod, name)
					a.rec.Eventf(containerRef(pod, spec), corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
					left = a.preStop(ctx, pod, spec, c.ID, grace)
				}
				if err := a.rt.StopContainer(ctx, c.ID, left); err != nil && !errors.Is(err, runtime.ErrNotFound) {
					errs <- fmt.Errorf("stop %s: %w", name, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	for _, sb := range pr.sandboxes {
		if sb.State == runtime.SandboxReady {
			if err := a.rt.StopPodSandbox(ctx, sb.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				return fmt.Errorf("stop sandbox: %w", err)
			}
		}
	}
	return nil
}

// terminate ends a pod being deleted, as kubelet does: stop its
// containers within the grace period, report the final status, remove
// the sandbox, then delete the pod for good (grace period 0, only this
// UID: a new pod of the same name is left alone).
func (a *Agent) terminate(ctx context.Context, pod *corev1.Pod, pr *podRuntime) error {
	if err := a.stopAll(ctx, pod, pr, gracePeriod(pod)); err != nil {
		return err
	}
	after, err := a.inspect(ctx, pod.UID)
	if err != nil {
		return err
	}
	status := a.podStatus(pod, after, nil, true)
	if err := a.writeStatus(ctx, pod, status); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err := a.teardown(ctx, pod, after, 0); err != nil {
		return err
	}
	a.ipam.release(pod.UID)
	if err := a.releasePod(pod.UID, after, true); err != nil {
		return err
	}
	err = a.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      &metav1.Preconditions{UID: ptr.To(pod.UID)},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod: %w", err)
	}
	return nil
}
