package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// podWatch follows the pods of one namespace from a watch and notes when
// each was first seen running: the client's view of create-to-Running.
type podWatch struct {
	client    kubernetes.Interface
	namespace string
	w         watch.Interface
	rv        string
	// running holds when each pod was first seen running, and the pod
	// as it was then.
	running map[string]runningPod
	// exists holds the pods that exist now.
	exists map[string]bool
}

type runningPod struct {
	seen time.Time
	pod  *corev1.Pod
}

func newPodWatch(ctx context.Context, c kubernetes.Interface, namespace string) (*podWatch, error) {
	list, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	pw := &podWatch{client: c, namespace: namespace, rv: list.ResourceVersion,
		running: map[string]runningPod{}, exists: map[string]bool{}}
	for i := range list.Items {
		pw.observe(watch.Added, &list.Items[i], time.Now())
	}
	return pw, pw.open(ctx)
}

func (pw *podWatch) open(ctx context.Context) error {
	w, err := pw.client.CoreV1().Pods(pw.namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: pw.rv, AllowWatchBookmarks: true})
	if err != nil {
		return err
	}
	pw.w = w
	return nil
}

func (pw *podWatch) stop() {
	if pw.w != nil {
		pw.w.Stop()
	}
}

// podRunning is what the benchmark waits for: phase Running with every
// container running (kubectl's READY column aside: no probes here).
func podRunning(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
		return false
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.State.Running == nil {
			return false
		}
	}
	return true
}

func (pw *podWatch) observe(t watch.EventType, pod *corev1.Pod, now time.Time) {
	pw.rv = pod.ResourceVersion
	switch t {
	case watch.Deleted:
		delete(pw.exists, pod.Name)
		delete(pw.running, pod.Name)
		return
	case watch.Bookmark:
		return
	}
	pw.exists[pod.Name] = true
	if _, seen := pw.running[pod.Name]; !seen && podRunning(pod) {
		pw.running[pod.Name] = runningPod{seen: now, pod: pod}
	}
}

// next handles one event, reopening the watch where it left off if the
// server ended it.
func (pw *podWatch) next(ctx context.Context, deadline <-chan time.Time) error {
	select {
	case ev, ok := <-pw.w.ResultChan():
		now := time.Now()
		if !ok {
			return pw.open(ctx)
		}
		if ev.Type == watch.Error {
			return fmt.Errorf("watch: %v", ev.Object)
		}
		if pod, ok := ev.Object.(*corev1.Pod); ok {
			pw.observe(ev.Type, pod, now)
		}
		return nil
	case <-deadline:
		return fmt.Errorf("timed out")
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// waitFor handles events until done says so or timeout passes.
func (pw *podWatch) waitFor(ctx context.Context, timeout time.Duration, done func() bool, what func() string) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for !done() {
		if err := pw.next(ctx, timer.C); err != nil {
			return fmt.Errorf("%s: %w", what(), err)
		}
	}
	return nil
}

// waitRunning waits until the named pod has been seen running.
func (pw *podWatch) waitRunning(ctx context.Context, name string, timeout time.Duration) (runningPod, error) {
	err := pw.waitFor(ctx, timeout,
		func() bool { _, ok := pw.running[name]; return ok },
		func() string { return fmt.Sprintf("pod %s not Running within %s", name, timeout) })
	return pw.running[name], err
}

// waitAllRunning waits until n pods have been seen running.
func (pw *podWatch) waitAllRunning(ctx context.Context, n int, timeout time.Duration) error {
	return pw.waitFor(ctx, timeout,
		func() bool { return len(pw.running) >= n },
		func() string { return fmt.Sprintf("%d of %d pods Running", len(pw.running), n) })
}

// waitGone waits until no pod is left in the namespace.
func (pw *podWatch) waitGone(ctx context.Context, timeout time.Duration) error {
	return pw.waitFor(ctx, timeout,
		func() bool { return len(pw.exists) == 0 },
		func() string { return fmt.Sprintf("%d pods still there", len(pw.exists)) })
}
