package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/benchutil"
	"mini.dev/mini/internal/testimages"
)

const (
	namespace = "nodebench"
	appLabel  = "app"
	appName   = "nodebench"
)

// newPod is a busybox pod sleeping for an hour, its image already on the
// node. busybox's sleep, as PID 1, ignores SIGTERM: a short grace period
// keeps the deletions the benchmark waits for short.
func newPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{appLabel: appName}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "sleep", Image: testimages.BusyboxTag, ImagePullPolicy: corev1.PullIfNotPresent,
				Command: []string{"sleep", "3600"},
			}},
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
		},
	}
}

// sequential is the one-after-another run: each pod's create-to-Running
// as the client sees it, and as the node's timestamps say.
type sequential struct {
	client Latencies
	// server is container startedAt minus creationTimestamp, both in
	// whole seconds: only their mean says something.
	server Latencies
}

// Latencies is benchutil's, named short.
type Latencies = benchutil.Latencies

// runSequential creates n pods one after another, each once the one
// before runs, timing each from its create request to the watch event
// showing it running.
func runSequential(ctx context.Context, c kubernetes.Interface, n int) (sequential, error) {
	var s sequential
	pw, err := newPodWatch(ctx, c, namespace)
	if err != nil {
		return s, err
	}
	defer pw.stop()
	for i := range n {
		name := fmt.Sprintf("seq-%03d", i)
		start := time.Now()
		if _, err := c.CoreV1().Pods(namespace).Create(ctx, newPod(name), metav1.CreateOptions{}); err != nil {
			return s, err
		}
		r, err := pw.waitRunning(ctx, name, 2*time.Minute)
		if err != nil {
			return s, err
		}
		s.client = append(s.client, r.seen.Sub(start))
		if started := r.pod.Status.ContainerStatuses[0].State.Running.StartedAt; !started.IsZero() {
			s.server = append(s.server, started.Sub(r.pod.CreationTimestamp.Time))
		}
	}
	return s, nil
}

// burst is the all-at-once run.
type burst struct {
	// all is from the first create request to the last pod running.
	all time.Duration
	// each is every pod's create-to-Running.
	each Latencies
}

// runBurst creates n pods from `clients` goroutines at once and waits
// until all of them run.
func runBurst(ctx context.Context, c kubernetes.Interface, n, clients int) (burst, error) {
	var b burst
	pw, err := newPodWatch(ctx, c, namespace)
	if err != nil {
		return b, err
	}
	defer pw.stop()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu      sync.Mutex
		created = map[string]time.Time{}
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				name := fmt.Sprintf("burst-%03d", i)
				t := time.Now()
				if _, err := c.CoreV1().Pods(namespace).Create(ctx, newPod(name), metav1.CreateOptions{}); err != nil {
					cancel(fmt.Errorf("creating %s: %w", name, err))
					return
				}
				mu.Lock()
				created[name] = t
				mu.Unlock()
			}
		}()
	}
	err = pw.waitAllRunning(ctx, n, 5*time.Minute)
	wg.Wait()
	if err != nil {
		return b, err
	}
	var last time.Time
	for name, r := range pw.running {
		if r.seen.After(last) {
			last = r.seen
		}
		b.each = append(b.each, r.seen.Sub(created[name]))
	}
	b.all = last.Sub(start)
	return b, nil
}

// deleteAll deletes the benchmark's pods and waits until they are gone:
// the agent removes a pod's object once its containers and sandbox are.
func deleteAll(ctx context.Context, c kubernetes.Interface, timeout time.Duration) (time.Duration, error) {
	pw, err := newPodWatch(ctx, c, namespace)
	if err != nil {
		return 0, err
	}
	defer pw.stop()
	start := time.Now()
	err = c.CoreV1().Pods(namespace).DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: appLabel + "=" + appName})
	if err != nil {
		return 0, err
	}
	if err := pw.waitGone(ctx, timeout); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
