package agent

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubectl/pkg/util/qos"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/runtime"
)

// Waiting reasons kubelet gives containers that have no instance yet.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
)

// podStatus is kubelet's generateAPIPodStatus: the status the agent
// reports for pod given the runtime's state. waiting holds the reasons
// of containers that could not be (re)started this sync; podIsTerminal
// says the pod is being torn down and will not run again.
func (a *Agent) podStatus(pod *corev1.Pod, pr *podRuntime, waiting map[string]*corev1.ContainerStateWaiting, podIsTerminal bool) corev1.PodStatus {
	old := &pod.Status
	now := metav1.NewTime(a.clock.Now().Truncate(time.Second))
	s := corev1.PodStatus{QOSClass: old.QOSClass, StartTime: old.StartTime}
	if s.QOSClass == "" {
		s.QOSClass = qos.GetPodQOS(pod)
	}
	if s.StartTime == nil {
		s.StartTime = &now
	}
	if pod.Generation > 0 {
		s.ObservedGeneration = pod.Generation
	}

	hostIPs := a.hostIPs()
	if len(hostIPs) > 0 {
		s.HostIP = hostIPs[0]
		for _, ip := range hostIPs {
			s.HostIPs = append(s.HostIPs, corev1.HostIP{IP: ip})
		}
	}
	var podIPs []string
	switch {
	case pod.Spec.HostNetwork:
		podIPs = hostIPs
	case pr.readySandbox() != nil:
		podIPs = pr.readySandbox().IPs
	}
	for _, ip := range podIPs {
		s.PodIPs = append(s.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	} else if len(old.PodIPs) > 0 {
		// A stopped sandbox keeps the addresses it had in the status.
		s.PodIP, s.PodIPs = old.PodIP, old.PodIPs
	}

	s.InitContainerStatuses = a.containerStatuses(pod, pod.Spec.InitContainers, old.InitContainerStatuses, pr, waiting, true)
	s.ContainerStatuses = a.containerStatuses(pod, pod.Spec.Containers, old.ContainerStatuses, pr, waiting, false)
	slices.SortFunc(s.ContainerStatuses, func(x, y corev1.ContainerStatus) int { return strings.Compare(x.Name, y.Name) })

	all := append(slices.Clone(s.ContainerStatuses), s.InitContainerStatuses...)
	s.Phase = getPhase(pod, all, podIsTerminal)
	if isTerminal(old.Phase) {
		s.Phase = old.Phase // pods never leave a terminal phase
	}
	if s.Phase == old.Phase {
		s.Reason, s.Message = old.Reason, old.Message
	}
	s.Conditions = a.podConditions(pod, pr, &s, now)
	return s
}

// containerStatuses is kubelet's convertToAPIContainerStatuses for one
// list of containers (init or regular), in the spec's order.
func (a *Agent) containerStatuses(pod *corev1.Pod, specs []corev1.Container, previous []corev1.ContainerStatus,
	pr *podRuntime, waiting map[string]*corev1.ContainerStateWaiting, isInit bool) []corev1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	defaultReason := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		defaultReason = reasonPodInitializing
	}
	out := make([]corev1.ContainerStatus, 0, len(specs))
	for i := range specs {
		c := &specs[i]
		var oldSt *corev1.ContainerStatus
		for j := range previous {
			if previous[j].Name == c.Name {
				oldSt = &previous[j]
			}
		}
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: defaultReason}}}
		insts := pr.byName[c.Name]
		switch {
		case len(insts) > 0:
			st = a.convertContainer(insts[0])
			if len(insts) > 1 {
				st.LastTerminationState = a.convertContainer(insts[1]).State
			}
		case oldSt != nil && oldSt.State.Terminated != nil:
			// The runtime forgot a finished container; its last report
			// stands.
			st = *oldSt.DeepCopy()
		case oldSt != nil && oldSt.State.Running != nil:
			// It was running and is gone without a trace.
			st.RestartCount = oldSt.RestartCount
			st.LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "ContainerStatusUnknown", ExitCode: 137,
				Message: "The container could not be located when the pod was deleted.  The container used to be Running",
			}}
			if pod.DeletionTimestamp == nil {
				st.RestartCount++
			}
		case oldSt != nil:
			st.RestartCount = oldSt.RestartCount
			st.LastTerminationState = *oldSt.LastTerminationState.DeepCopy()
		}
		if w := waiting[c.Name]; w != nil {
			if st.State.Terminated != nil {
				st.LastTerminationState = st.State
			}
			st.State = corev1.ContainerState{Waiting: w.DeepCopy()}
		}
		a.setReadiness(pod, c, &st, isInit)
		st.VolumeMounts = volumeMountStatuses(c)
		if st.State.Running != nil {
			st.Resources, st.AllocatedResources = resourceStatus(c)
		}
		out = append(out, st)
	}
	return out
}

// convertContainer turns a runtime instance into its API status.
func (a *Agent) convertContainer(cs *runtime.ContainerStatus) corev1.ContainerStatus {
	cid := a.containerID(cs.ID)
	st := corev1.ContainerStatus{
		Name: cs.Name, RestartCount: int32(cs.Attempt), Image: cs.Image, ImageID: cs.ImageRef, ContainerID: cid,
	}
	switch cs.State {
	case runtime.ContainerRunning:
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.StartedAt.Truncate(time.Second))}
	case runtime.ContainerExited:
		st.State.Terminated = &corev1.ContainerStateTerminated{
			ExitCode: cs.ExitCode, Reason: cs.Reason, Message: cs.Message,
			StartedAt:   metav1.NewTime(cs.StartedAt.Truncate(time.Second)),
			FinishedAt:  metav1.NewTime(cs.FinishedAt.Truncate(time.Second)),
			ContainerID: cid,
		}
	default:
		st.State.Waiting = &corev1.ContainerStateWaiting{}
	}
	return st
}

// containerID is "<runtime>://<id>", as pod status shows it.
func (a *Agent) containerID(id string) string {
	return a.runtimeName() + "://" + id
}

// setReadiness sets started and ready as kubelet's prober manager does:
// without a prober (or probes), started once running and ready while
// running; a plain init container is ready once it succeeded. With
// probes, the startup and readiness results decide.
func (a *Agent) setReadiness(pod *corev1.Pod, c *corev1.Container, st *corev1.ContainerStatus, isInit bool) {
	running := st.State.Running != nil
	st.Started = ptr.To(running)
	if isInit && !isSidecar(c) {
		st.Ready = st.State.Terminated != nil && st.State.Terminated.ExitCode == 0
		return
	}
	st.Ready = running
	if !running || a.cfg.Prober == nil {
		return
	}
	_, id, _ := strings.Cut(st.ContainerID, "://")
	st.Started = ptr.To(a.cfg.Prober.Started(pod.UID, id))
	st.Ready = *st.Started && a.cfg.Prober.Ready(pod.UID, id)
}

// volumeMountStatuses reports the container's mounts (recursive
// read-only is never enabled by mini).
func volumeMountStatuses(c *corev1.Container) []corev1.VolumeMountStatus {
	var out []corev1.VolumeMountStatus
	for _, vm := range c.VolumeMounts {
		s := corev1.VolumeMountStatus{Name: vm.Name, MountPath: vm.MountPath, ReadOnly: vm.ReadOnly}
		if vm.ReadOnly {
			s.RecursiveReadOnly = ptr.To(corev1.RecursiveReadOnlyDisabled)
		}
		out = append(out, s)
	}
	return out
}

// resourceStatus is what a running container reports of its resources:
// the cpu, memory and ephemeral-storage requests and limits it runs with.
func resourceStatus(c *corev1.Container) (*corev1.ResourceRequirements, corev1.ResourceList) {
	filter := func(l corev1.ResourceList) corev1.ResourceList {
		var out corev1.ResourceList
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
			if q, ok := l[n]; ok {
				if out == nil {
					out = corev1.ResourceList{}
				}
				out[n] = q.DeepCopy()
			}
		}
		return out
	}
	req := filter(c.Resources.Requests)
	return &corev1.ResourceRequirements{Requests: req, Limits: filter(c.Resources.Limits)}, req
}

// getPhase is kubelet's: the pod's phase from its containers' statuses.
func getPhase(pod *corev1.Pod, info []corev1.ContainerStatus, podIsTerminal bool) corev1.PodPhase {
	find := func(name string) *corev1.ContainerStatus {
		for i := range info {
			if info[i].Name == name {
				return &info[i]
			}
		}
		return nil
	}
	pendingInit, failedInit := 0, 0
	unknown, running, waiting, stopped, succeeded := 0, 0, 0, 0, 0
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st := find(c.Name)
		if isSidecar(c) {
			// A sidecar counts as pending until it started; once the
			// pod runs, its restarts do not send the pod back.
			switch {
			case st == nil:
				pendingInit++
			case st.State.Running != nil:
				if st.Started == nil || !*st.Started {
					pendingInit++
				}
				running++
			case st.State.Terminated != nil:
			case st.State.Waiting != nil:
				if st.LastTerminationState.Terminated == nil {
					pendingInit++
					waiting++
				}
			default:
				pendingInit++
				unknown++
			}
			continue
		}
		switch {
		case st == nil, st.State.Running != nil:
			pendingInit++
		case st.State.Terminated != nil:
			if st.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case st.State.Waiting != nil:
			if t := st.LastTerminationState.Terminated; t != nil {
				if t.ExitCode != 0 {
					failedInit++
				}
			} else {
				pendingInit++
			}
		default:
			pendingInit++
		}
	}
	regularStarted := false
	for _, c := range pod.Spec.Containers {
		st := find(c.Name)
		if st == nil {
			unknown++
			continue
		}
		if st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil {
			regularStarted = true
		}
		switch {
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			if st.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case st.State.Waiting != nil:
			if st.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	if failedInit > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
		return corev1.PodFailed
	}
	switch {
	case pendingInit > 0 && !regularStarted, waiting > 0:
		return corev1.PodPending
	case running > 0 && unknown == 0:
		return corev1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if podIsTerminal {
			if stopped == succeeded {
				return corev1.PodSucceeded
			}
			return corev1.PodFailed
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// podConditions are kubelet's: the conditions others own first, then
// PodReadyToStartContainers, Initialized, Ready, ContainersReady and
// PodScheduled. A condition keeps its lastTransitionTime while its status
// stays the same.
func (a *Agent) podConditions(pod *corev1.Pod, pr *podRuntime, s *corev1.PodStatus, now metav1.Time) []corev1.PodCondition {
	var out []corev1.PodCondition
	for _, c := range pod.Status.Conditions {
		if !kubeletOwned(c.Type) {
			out = append(out, c)
		}
	}
	sandboxReady := corev1.ConditionFalse
	if sb := pr.readySandbox(); sb != nil && (pod.Spec.HostNetwork || len(sb.IPs) > 0) {
		sandboxReady = corev1.ConditionTrue
	}
	all := append(slices.Clone(s.InitContainerStatuses), s.ContainerStatuses...)
	containersReady := containersReadyCondition(pod, all, s.Phase)
	owned := []corev1.PodCondition{
		{Type: corev1.PodReadyToStartContainers, Status: sandboxReady},
		initializedCondition(pod, all, s.Phase),
		readyCondition(pod, containersReady),
		containersReady,
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
	}
	for _, c := range owned {
		c.LastTransitionTime = now
		if pod.Generation > 0 {
			c.ObservedGeneration = pod.Generation
		}
		for _, o := range pod.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime, c.LastProbeTime = o.LastTransitionTime, o.LastProbeTime
			}
		}
		out = append(out, c)
	}
	return out
}

func kubeletOwned(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized, corev1.ContainersReady,
		corev1.PodReadyToStartContainers, corev1.PodResizePending, corev1.PodResizeInProgress:
		return true
	}
	return false
}

func statusOf(all []corev1.ContainerStatus, name string) *corev1.ContainerStatus {
	for i := range all {
		if all[i].Name == name {
			return &all[i]
		}
	}
	return nil
}

// initializedCondition is kubelet's GeneratePodInitializedCondition.
func initializedCondition(pod *corev1.Pod, all []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	var incomplete []string
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st := statusOf(all, c.Name)
		switch {
		case st == nil:
			incomplete = append(incomplete, c.Name)
		case isSidecar(c):
			if st.Started == nil || !*st.Started {
				incomplete = append(incomplete, c.Name)
			}
		case st.State.Terminated == nil || st.State.Terminated.ExitCode != 0:
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == corev1.PodSucceeded {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, Reason: "PodCompleted"}
	}
	for _, c := range pod.Spec.Containers {
		if st := statusOf(all, c.Name); st != nil && (st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil) {
			return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
		}
	}
	if len(incomplete) > 0 {
		return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionFalse, Reason: "ContainersNotInitialized",
			Message: fmt.Sprintf("containers with incomplete status: %s", incomplete)}
	}
	return corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}
}

// containersReadyCondition is kubelet's GenerateContainersReadyCondition.
func containersReadyCondition(pod *corev1.Pod, all []corev1.ContainerStatus, phase corev1.PodPhase) corev1.PodCondition {
	var unready []string
	check := func(c *corev1.Container) {
		if st := statusOf(all, c.Name); st == nil || !st.Ready {
			unready = append(unready, c.Name)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			check(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		check(&pod.Spec.Containers[i])
	}
	if phase == corev1.PodSucceeded {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "PodCompleted"}
	}
	if len(unready) > 0 {
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady",
			Message: fmt.Sprintf("containers with unready status: %s", unready)}
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
}

// readyCondition is kubelet's GeneratePodReadyCondition: ContainersReady
// plus the pod's readiness gates.
func readyCondition(pod *corev1.Pod, containersReady corev1.PodCondition) corev1.PodCondition {
	if containersReady.Status != corev1.ConditionTrue {
		return corev1.PodCondition{Type: corev1.PodReady, Status: containersReady.Status,
			Reason: containersReady.Reason, Message: containersReady.Message}
	}
	var msgs []string
	for _, g := range pod.Spec.ReadinessGates {
		var found *corev1.PodCondition
		for i := range pod.Status.Conditions {
			if pod.Status.Conditions[i].Type == g.ConditionType {
				found = &pod.Status.Conditions[i]
			}
		}
		switch {
		case found == nil:
			msgs = append(msgs, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		case found.Status != corev1.ConditionTrue:
			msgs = append(msgs, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), found.Status))
		}
	}
	if len(msgs) > 0 {
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ReadinessGatesNotReady",
			Message: strings.Join(msgs, ", ")}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}
