package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"mini.dev/mini/internal/runtime"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// startOne runs a sandbox with the given policy and annotations and starts
// one container of type typ in it.
func startOne(t *testing.T, r *Runtime, policy, typ string, ann map[string]string) string {
	t.Helper()
	ctx := context.Background()
	sbCfg := &runtime.PodSandboxConfig{Name: "p", Namespace: "ns", UID: "u1", RestartPolicy: policy, Annotations: ann,
		Labels: map[string]string{runtime.LabelPodUID: "u1"}}
	sb, err := r.RunPodSandbox(ctx, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PullImage(ctx, "busybox", nil); err != nil {
		t.Fatal(err)
	}
	id, err := r.CreateContainer(ctx, sb, &runtime.ContainerConfig{Name: "c", Image: "busybox",
		Labels: map[string]string{runtime.LabelContainerType: typ}}, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// waitState polls until the container reaches want or the deadline passes.
func waitState(t *testing.T, r *Runtime, id string, want runtime.ContainerState) *runtime.ContainerStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := r.ContainerStatus(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if st.State == want {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("container state %s, want %s", st.State, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSelfExit(t *testing.T) {
	tests := []struct {
		name   string
		policy string
		typ    string
		ann    map[string]string
		exits  bool
		after  time.Duration
		code   int32
		reason string
	}{
		{name: "always runs", policy: "Always", typ: runtime.ContainerTypeRegular},
		{name: "never exits 0 after 1s", policy: "Never", typ: runtime.ContainerTypeRegular, exits: true, after: time.Second, reason: "Completed"},
		{name: "onfailure exits 0 after 1s", policy: "OnFailure", typ: runtime.ContainerTypeRegular, exits: true, after: time.Second, reason: "Completed"},
		{name: "always with exit code crash", policy: "Always", typ: runtime.ContainerTypeRegular,
			ann: map[string]string{AnnotationExitCode: "1"}, exits: true, after: time.Second, code: 1, reason: "Error"},
		{name: "duration override", policy: "Never", typ: runtime.ContainerTypeRegular,
			ann: map[string]string{AnnotationDuration: "30s", AnnotationExitCode: "3"}, exits: true, after: 30 * time.Second, code: 3, reason: "Error"},
		{name: "bad annotation ignored", policy: "Always", typ: runtime.ContainerTypeRegular,
			ann: map[string]string{AnnotationExitCode: "x"}},
		{name: "init completes in always pod", policy: "Always", typ: runtime.ContainerTypeInit,
			ann: map[string]string{AnnotationExitCode: "1"}, exits: true, after: time.Second, reason: "Completed"},
		{name: "sidecar runs", policy: "Never", typ: runtime.ContainerTypeSidecar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(epoch)
			r, _ := New(Config{Clock: clk})
			id := startOne(t, r, tt.policy, tt.typ, tt.ann)
			waitState(t, r, id, runtime.ContainerRunning)
			if !tt.exits {
				if clk.HasWaiters() {
					t.Fatal("a container that runs until stopped armed a timer")
				}
				return
			}
			clk.Step(tt.after - time.Millisecond)
			if st, _ := r.ContainerStatus(context.Background(), id); st.State != runtime.ContainerRunning {
				t.Fatalf("exited early: %s", st.State)
			}
			clk.Step(time.Millisecond)
			st := waitState(t, r, id, runtime.ContainerExited)
			if st.ExitCode != tt.code || st.Reason != tt.reason {
				t.Fatalf("exit %d %q, want %d %q", st.ExitCode, st.Reason, tt.code, tt.reason)
			}
			if got := st.FinishedAt.Sub(st.StartedAt); got != tt.after {
				t.Fatalf("ran %s, want %s", got, tt.after)
			}
		})
	}
}

func TestStopAndEvents(t *testing.T) {
	clk := testingclock.NewFakeClock(epoch)
	r, _ := New(Config{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	events := r.ContainerEvents(ctx)
	id := startOne(t, r, "Always", runtime.ContainerTypeRegular, nil)
	for _, want := range []runtime.ContainerState{runtime.ContainerCreated, runtime.ContainerRunning} {
		if ev := <-events; ev.State != want || ev.ContainerID != id || ev.Labels[runtime.LabelContainerType] != runtime.ContainerTypeRegular {
			t.Fatalf("event %+v, want %s", ev, want)
		}
	}
	if err := r.RemoveContainer(ctx, id); !errors.Is(err, runtime.ErrInvalidState) {
		t.Fatalf("removing a running container: %v", err)
	}
	if err := r.StopContainer(ctx, id, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if ev := <-events; ev.State != runtime.ContainerExited {
		t.Fatalf("event %+v", ev)
	}
	st, _ := r.ContainerStatus(ctx, id)
	if st.ExitCode != 0 || st.Reason != "Completed" {
		t.Fatalf("graceful stop: %d %s", st.ExitCode, st.Reason)
	}
	if err := r.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ContainerStatus(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("removed container: %v", err)
	}
	cancel()
	if _, ok := <-events; ok {
		t.Fatal("events channel open after cancel")
	}
}

func TestSandboxStopKills(t *testing.T) {
	r, _ := New(Config{Clock: testingclock.NewFakeClock(epoch)})
	ctx := context.Background()
	id := startOne(t, r, "Always", runtime.ContainerTypeRegular, nil)
	st, _ := r.ContainerStatus(ctx, id)
	if err := r.StopPodSandbox(ctx, st.SandboxID); err != nil {
		t.Fatal(err)
	}
	st, _ = r.ContainerStatus(ctx, id)
	if st.State != runtime.ContainerExited || st.ExitCode != 137 {
		t.Fatalf("after sandbox stop: %s %d", st.State, st.ExitCode)
	}
	sbs, _ := r.ListPodSandboxes(ctx, &runtime.SandboxFilter{State: runtime.SandboxNotReady})
	if len(sbs) != 1 {
		t.Fatalf("not-ready sandboxes: %d", len(sbs))
	}
	if err := r.RemovePodSandbox(ctx, st.SandboxID); err != nil {
		t.Fatal(err)
	}
	if cs, _ := r.ListContainers(ctx, nil); len(cs) != 0 {
		t.Fatalf("containers left: %d", len(cs))
	}
}

func TestImages(t *testing.T) {
	r, _ := New(Config{})
	ctx := context.Background()
	if img, err := r.ImageStatus(ctx, "nginx"); err != nil || img != nil {
		t.Fatalf("absent image: %v %v", img, err)
	}
	ref, err := r.PullImage(ctx, "nginx:1.27", nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := r.ImageStatus(ctx, "docker.io/library/nginx:1.27")
	if err != nil || img == nil {
		t.Fatalf("pulled image: %v %v", img, err)
	}
	if img.RepoDigests[0] != ref || img.RepoTags[0] != "docker.io/library/nginx:1.27" {
		t.Fatalf("image %+v ref %s", img, ref)
	}
	if _, err := r.PullImage(ctx, "UPPER", nil); err == nil {
		t.Fatal("invalid reference pulled")
	}
}
