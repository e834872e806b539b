package agent

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/runtime/sim"
)

// Test plan: one node, node-1, at 192.0.2.10 with pod CIDR 10.42.1.0/24;
// its first pod gets 10.42.1.2.
const (
	testNode   = "node-1"
	testNodeIP = "192.0.2.10"
	testCIDR   = "10.42.1.0/24"
)

var epoch = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

type harness struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	clock  *testingclock.FakeClock
	rec    *record.FakeRecorder
	agent  *Agent
	rt     *sim.Runtime

	mu     sync.Mutex
	events []string
}

func newHarness(t *testing.T, withCIDR bool) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ctx: ctx, client: fake.NewSimpleClientset(), clock: testingclock.NewFakeClock(epoch),
		rec: record.NewFakeRecorder(1000)}
	h.rt, _ = sim.New(sim.Config{Clock: h.clock})
	a, err := New(Config{
		Client: h.client, NodeName: testNode, Runtime: h.rt, Clock: h.clock, Recorder: h.rec,
		Node: NodeConfig{
			Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"),
				corev1.ResourceMemory: resource.MustParse("32Gi"), corev1.ResourcePods: resource.MustParse("110")},
			Labels:    map[string]string{"type": "sim"},
			Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: testNodeIP}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.agent = a
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	go func() {
		for ev := range h.rec.Events {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-a.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("agent not ready")
	}
	if withCIDR {
		h.setCIDR()
	}
	return h
}

func (h *harness) setCIDR() {
	h.t.Helper()
	node, err := h.client.CoreV1().Nodes().Get(h.ctx, testNode, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	node.Spec.PodCIDR, node.Spec.PodCIDRs = testCIDR, []string{testCIDR}
	if _, err := h.client.CoreV1().Nodes().Update(h.ctx, node, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
	h.waitFor("pod CIDR seen", func() bool { return h.agent.ipam.hasCIDR() })
}

// waitFor polls cond until it holds or 10 s pass.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, 2*time.Millisecond, 10*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitPod polls the pod until cond holds and returns it.
func (h *harness) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	h.t.Helper()
	var pod *corev1.Pod
	h.waitFor(what, func() bool {
		p, err := h.client.CoreV1().Pods("default").Get(h.ctx, name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		pod = p
		return cond(p)
	})
	return pod
}

func (h *harness) createPod(pod *corev1.Pod) *corev1.Pod {
	h.t.Helper()
	p, err := h.client.CoreV1().Pods("default").Create(h.ctx, pod, metav1.CreateOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) hasEvent(substr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range h.events {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// step advances the fake clock once the agent is idle (every timer it
// waits on is armed), so that no exit is missed.
func (h *harness) step(d time.Duration) { h.clock.Step(d) }

func testPod(name string, policy corev1.RestartPolicy, ann map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name), Annotations: ann},
		Spec:       corev1.PodSpec{NodeName: testNode, RestartPolicy: policy},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBestEffort,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(epoch.Add(-time.Minute))}}},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c, Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent})
	}
	return p
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return corev1.PodCondition{}
}

func TestPodRuns(t *testing.T) {
	h := newHarness(t, true)
	h.createPod(testPod("web", corev1.RestartPolicyAlways, nil, "nginx"))
	pod := h.waitPod("web", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })

	if pod.Status.PodIP != "10.42.1.2" || len(pod.Status.PodIPs) != 1 {
		t.Errorf("pod IPs %q %v", pod.Status.PodIP, pod.Status.PodIPs)
	}
	if pod.Status.HostIP != testNodeIP || len(pod.Status.HostIPs) != 1 || pod.Status.StartTime == nil {
		t.Errorf("host IP %q %v, start %v", pod.Status.HostIP, pod.Status.HostIPs, pod.Status.StartTime)
	}
	for _, ct := range []corev1.PodConditionType{corev1.PodReadyToStartContainers, corev1.PodInitialized,
		corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled} {
		if c := condition(pod, ct); c.Status != corev1.ConditionTrue {
			t.Errorf("condition %s: %+v", ct, c)
		}
	}
	if got := condition(pod, corev1.PodScheduled).LastTransitionTime.Time; !got.Equal(epoch.Add(-time.Minute)) {
		t.Errorf("PodScheduled transition time changed: %v", got)
	}
	var order []string
	for _, c := range pod.Status.Conditions {
		order = append(order, string(c.Type))
	}
	if got := strings.Join(order, ","); got != "PodReadyToStartContainers,Initialized,Ready,ContainersReady,PodScheduled" {
		t.Errorf("condition order %s", got)
	}
	cs := pod.Status.ContainerStatuses
	if len(cs) != 1 || !cs[0].Ready || cs[0].Started == nil || !*cs[0].Started || cs[0].State.Running == nil ||
		!strings.HasPrefix(cs[0].ContainerID, "sim://") || !strings.HasPrefix(cs[0].ImageID, "docker.io/library/busybox@sha256:") ||
		cs[0].Image != "docker.io/library/busybox:latest" || cs[0].RestartCount != 0 {
		t.Errorf("container status %+v", cs)
	}
	for _, ev := range []string{`Normal Pulling Pulling image "busybox"`, "Normal Created Created container: nginx", "Normal Started Started container nginx"} {
		h.waitFor("event "+ev, func() bool { return h.hasEvent(ev) })
	}
}

func TestPodWaitsForCIDR(t *testing.T) {
	h := newHarness(t, false)
	h.createPod(testPod("web", corev1.RestartPolicyAlways, nil, "nginx"))
	pod := h.waitPod("web", "pending status", func(p *corev1.Pod) bool { return len(p.Status.ContainerStatuses) == 1 })
	if w := pod.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ContainerCreating" ||
		condition(pod, corev1.PodReadyToStartContainers).Status != corev1.ConditionFalse || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("status before CIDR: %+v", pod.Status)
	}
	h.setCIDR()
	h.waitPod("web", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" })
}

func TestRestartPolicies(t *testing.T) {
	tests := []struct {
		name   string
		policy corev1.RestartPolicy
		code   string
		// after one second of fake time
		phase    corev1.PodPhase
		restarts int32
	}{
		{name: "never succeeds", policy: corev1.RestartPolicyNever, phase: corev1.PodSucceeded},
		{name: "never fails", policy: corev1.RestartPolicyNever, code: "2", phase: corev1.PodFailed},
		{name: "onfailure succeeds", policy: corev1.RestartPolicyOnFailure, phase: corev1.PodSucceeded},
		{name: "onfailure restarts", policy: corev1.RestartPolicyOnFailure, code: "1", phase: corev1.PodRunning, restarts: 1},
		{name: "always restarts", policy: corev1.RestartPolicyAlways, code: "1", phase: corev1.PodRunning, restarts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, true)
			ann := map[string]string{}
			if tt.code != "" {
				ann[sim.AnnotationExitCode] = tt.code
			}
			h.createPod(testPod("job", tt.policy, ann, "main"))
			h.waitPod("job", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
			h.step(time.Second)
			pod := h.waitPod("job", string(tt.phase), func(p *corev1.Pod) bool {
				return p.Status.Phase == tt.phase && len(p.Status.ContainerStatuses) == 1 &&
					p.Status.ContainerStatuses[0].RestartCount == tt.restarts &&
					(tt.restarts == 0 || p.Status.ContainerStatuses[0].State.Running != nil)
			})
			cs := pod.Status.ContainerStatuses[0]
			if tt.restarts > 0 {
				last := cs.LastTerminationState.Terminated
				if last == nil || last.Reason != "Error" || fmt.Sprint(last.ExitCode) != tt.code {
					t.Fatalf("last state %+v", cs.LastTerminationState)
				}
				return
			}
			term := cs.State.Terminated
			wantReason := "Completed"
			if tt.code != "" {
				wantReason = "Error"
			}
			if term == nil || term.Reason != wantReason || term.FinishedAt.Sub(term.StartedAt.Time) != time.Second {
				t.Fatalf("terminated %+v", term)
			}
			if c := condition(pod, corev1.PodReady); c.Status != corev1.ConditionFalse {
				t.Fatalf("Ready %+v", c)
			}
			// A finished pod keeps its exited container (its logs) until
			// it is deleted; its sandbox is stopped.
			h.waitFor("sandbox stopped, container kept", func() bool {
				cs, _ := h.rt.ListContainers(h.ctx, nil)
				sbs, _ := h.rt.ListPodSandboxes(h.ctx, nil)
				return len(cs) == 1 && cs[0].State == runtime.ContainerExited &&
					len(sbs) == 1 && sbs[0].State == runtime.SandboxNotReady
			})
		})
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	h := newHarness(t, true)
	p := h.createPod(testPod("crash", corev1.RestartPolicyAlways, map[string]string{sim.AnnotationExitCode: "1"}, "app"))
	h.waitPod("crash", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	h.step(time.Second) // first exit: restarted at once
	h.waitPod("crash", "restart 1", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil
	})
	h.step(time.Second) // second exit: back-off 10 s
	wantMsg := fmt.Sprintf("back-off 10s restarting failed container=app pod=crash_default(%s)", p.UID)
	pod := h.waitPod("crash", "CrashLoopBackOff", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
	})
	cs := pod.Status.ContainerStatuses[0]
	if cs.State.Waiting.Message != wantMsg || cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil ||
		cs.LastTerminationState.Terminated.ExitCode != 1 || cs.Ready || pod.Status.Phase != corev1.PodRunning {
		t.Fatalf("crash-looping status %+v phase %s", cs, pod.Status.Phase)
	}
	if c := condition(pod, corev1.ContainersReady); c.Reason != "ContainersNotReady" || c.Message != "containers with unready status: [app]" {
		t.Fatalf("ContainersReady %+v", c)
	}
	h.waitFor("BackOff event", func() bool {
		return h.hasEvent("Warning BackOff Back-off restarting failed container app in pod crash_default(uid-crash)")
	})
	h.step(10 * time.Second)
	h.waitPod("crash", "restart 2", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 2 && cs[0].State.Running != nil
	})
}

func TestInitContainersInOrder(t *testing.T) {
	h := newHarness(t, true)
	p := testPod("init", corev1.RestartPolicyAlways, nil, "main")
	p.Spec.InitContainers = []corev1.Container{{Name: "first", Image: "busybox"}, {Name: "second", Image: "busybox"}}
	h.createPod(p)
	pod := h.waitPod("init", "first init running", func(p *corev1.Pod) bool {
		ics := p.Status.InitContainerStatuses
		return len(ics) == 2 && ics[0].State.Running != nil
	})
	ics := pod.Status.InitContainerStatuses
	if w := ics[1].State.Waiting; w == nil || w.Reason != "PodInitializing" || pod.Status.Phase != corev1.PodPending {
		t.Fatalf("second init %+v, phase %s", ics[1], pod.Status.Phase)
	}
	if w := pod.Status.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "PodInitializing" {
		t.Fatalf("main %+v", pod.Status.ContainerStatuses[0])
	}
	if c := condition(pod, corev1.PodInitialized); c.Status != corev1.ConditionFalse || c.Reason != "ContainersNotInitialized" ||
		c.Message != "containers with incomplete status: [first second]" {
		t.Fatalf("Initialized %+v", c)
	}
	h.step(time.Second)
	h.waitPod("init", "second init running", func(p *corev1.Pod) bool {
		ics := p.Status.InitContainerStatuses
		return ics[0].State.Terminated != nil && ics[0].Ready && ics[1].State.Running != nil &&
			p.Status.ContainerStatuses[0].State.Waiting != nil
	})
	h.step(time.Second)
	pod = h.waitPod("init", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if c := condition(pod, corev1.PodInitialized); c.Status != corev1.ConditionTrue {
		t.Fatalf("Initialized %+v", c)
	}
}

func TestDeletion(t *testing.T) {
	h := newHarness(t, true)
	h.createPod(testPod("web", corev1.RestartPolicyAlways, nil, "nginx"))
	pod := h.waitPod("web", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	// The fake clientset deletes at once; mark the pod as the API server
	// does for a graceful delete.
	now := metav1.NewTime(h.clock.Now())
	pod.DeletionTimestamp, pod.DeletionGracePeriodSeconds = &now, ptr.To[int64](30)
	if _, err := h.client.CoreV1().Pods("default").Update(h.ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("pod deleted", func() bool {
		_, err := h.client.CoreV1().Pods("default").Get(h.ctx, "web", metav1.GetOptions{})
		return err != nil
	})
	var del k8stesting.DeleteActionImpl
	for _, a := range h.client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok && d.Resource.Resource == "pods" {
			del = d
		}
	}
	if g := del.DeleteOptions.GracePeriodSeconds; g == nil || *g != 0 {
		t.Fatalf("delete grace period %v", g)
	}
	if pre := del.DeleteOptions.Preconditions; pre == nil || pre.UID == nil || *pre.UID != pod.UID {
		t.Fatalf("delete preconditions %+v", pre)
	}
	h.waitFor("runtime empty", func() bool {
		sbs, _ := h.rt.ListPodSandboxes(h.ctx, nil)
		return len(sbs) == 0
	})
	h.waitFor("Killing event", func() bool { return h.hasEvent("Normal Killing Stopping container nginx") })
}

func TestVanishedPodIsRemoved(t *testing.T) {
	h := newHarness(t, true)
	h.createPod(testPod("web", corev1.RestartPolicyAlways, nil, "nginx"))
	h.waitPod("web", "Running", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning })
	if err := h.client.CoreV1().Pods("default").Delete(h.ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("runtime empty", func() bool {
		sbs, _ := h.rt.ListPodSandboxes(h.ctx, nil)
		return len(sbs) == 0
	})
}

// failingSource delivers the initial sync (when synced is set) and then
// fails, as a source whose watch can no longer be served would.
type failingSource struct{ synced bool }

func (s failingSource) Run(_ context.Context, h Handler) error {
	if s.synced {
		h.OnSynced()
	}
	return fmt.Errorf("source broke")
}

// TestRunEndsWhenSourceFails: Run returns the source's error instead of
// waiting forever for the heartbeat and relist loops, which only stop
// with their context.
func TestRunEndsWhenSourceFails(t *testing.T) {
	for _, synced := range []bool{false, true} {
		t.Run(fmt.Sprintf("synced=%v", synced), func(t *testing.T) {
			clk := testingclock.NewFakeClock(epoch)
			rt, _ := sim.New(sim.Config{Clock: clk})
			a, err := New(Config{Client: fake.NewSimpleClientset(), NodeName: testNode, Runtime: rt, Clock: clk,
				Source: failingSource{synced: synced},
				Node:   NodeConfig{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: testNodeIP}}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "source broke") {
					t.Errorf("Run = %v, want the source's error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after its source failed")
			}
		})
	}
}
