package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func pod(name string, phase corev1.PodPhase, states ...corev1.ContainerState) *corev1.Pod {
	p := newPod(name)
	p.ResourceVersion = "7"
	p.Status.Phase = phase
	for _, s := range states {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "sleep", State: s})
	}
	return p
}

var (
	running = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	waiting = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}
)

func TestPodRunning(t *testing.T) {
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		want bool
	}{
		{"pending", pod("a", corev1.PodPending), false},
		{"running without statuses yet", pod("a", corev1.PodRunning), false},
		{"running, container waiting", pod("a", corev1.PodRunning, waiting), false},
		{"running, container running", pod("a", corev1.PodRunning, running), true},
		{"succeeded", pod("a", corev1.PodSucceeded, corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{}}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podRunning(tc.pod); got != tc.want {
				t.Errorf("podRunning = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPodWatchObserve(t *testing.T) {
	pw := &podWatch{running: map[string]runningPod{}, exists: map[string]bool{}}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		ev          watch.EventType
		pod         *corev1.Pod
		at          time.Time
		wantRunning int
		wantExists  int
	}{
		{watch.Added, pod("a", corev1.PodPending), t0, 0, 1},
		{watch.Modified, pod("a", corev1.PodRunning, running), t0.Add(time.Second), 1, 1},
		// A later update keeps the first time the pod was seen running.
		{watch.Modified, pod("a", corev1.PodRunning, running), t0.Add(2 * time.Second), 1, 1},
		{watch.Added, pod("b", corev1.PodPending), t0, 1, 2},
		{watch.Bookmark, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "9"}}, t0, 1, 2},
		{watch.Deleted, pod("a", corev1.PodRunning, running), t0, 0, 1},
		{watch.Deleted, pod("b", corev1.PodPending), t0, 0, 0},
	}
	for i, s := range steps {
		pw.observe(s.ev, s.pod, s.at)
		if len(pw.running) != s.wantRunning || len(pw.exists) != s.wantExists {
			t.Fatalf("step %d (%s %s): %d running, %d exist; want %d, %d", i, s.ev, s.pod.Name,
				len(pw.running), len(pw.exists), s.wantRunning, s.wantExists)
		}
		if i == 2 && !pw.running["a"].seen.Equal(t0.Add(time.Second)) {
			t.Errorf("pod a first seen running at %v, want %v", pw.running["a"].seen, t0.Add(time.Second))
		}
	}
	if pw.rv != "7" {
		t.Errorf("resource version %q, want the last event's", pw.rv)
	}
}
