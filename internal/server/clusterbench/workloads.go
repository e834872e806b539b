package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"mini.dev/mini/internal/benchutil"
)

// benchScheduler creates the pending pods with the scheduler off, then
// restarts the server with it on and times the binding of every pod.
func benchScheduler(ctx context.Context, o options, nodes int) ([]row, error) {
	dir, err := newDataDir(o.workdir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	sim := fmt.Sprintf("--sim-nodes=%d", nodes)
	srv, err := startServer(ctx, o.bin, dir, append([]string{sim, clusterCIDR, "--disable-scheduler"}, o.serverFlags...)...)
	if err != nil {
		return nil, err
	}
	if err := benchutil.WaitNodesReady(ctx, srv.client, nodes, 5*time.Minute); err != nil {
		srv.kill()
		return nil, err
	}
	if err := createPods(ctx, srv.client, o.pods); err != nil {
		srv.kill()
		return nil, err
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "clusterbench: %d pending pods stored; restarting with the scheduler on %d nodes\n", o.pods, nodes)

	srv, err = startServer(ctx, o.bin, dir, append([]string{sim, clusterCIDR}, o.serverFlags...)...)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	w, err := watchPods(ctx, srv.client)
	if err != nil {
		return nil, err
	}
	first, last, err := w.waitBound(ctx, o.pods, 5*time.Minute)
	if err != nil {
		return nil, err
	}
	// From the process's start: the scheduler's informers' first list is
	// part of binding a backlog.
	cpu, err := cpuTime(srv.PID())
	if err != nil {
		return nil, err
	}
	rate := float64(o.pods) / last.Sub(first).Seconds()
	withStart := float64(o.pods) / last.Sub(srv.started).Seconds()
	return []row{
		{fmt.Sprintf("scheduler: bind %d pending pods, %d nodes", o.pods, nodes), fmt.Sprintf("%.0f pods/s", rate), ">= 2000 pods/s at 1000 nodes"},
		{"  the same, from the server's start", fmt.Sprintf("%.0f pods/s (%s)", withStart, seconds(last.Sub(srv.started))), ""},
		{"  server CPU from its start to the last binding", cpuPerPod(cpu, o.pods), ""},
	}, nil
}

// benchDeployment times a Deployment of many replicas from its create to
// every pod Running.
func benchDeployment(ctx context.Context, o options) ([]row, error) {
	dir, err := newDataDir(o.workdir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	srv, err := startServer(ctx, o.bin, dir, append([]string{fmt.Sprintf("--sim-nodes=%d", o.deployNodes), clusterCIDR}, o.serverFlags...)...)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	if err := benchutil.WaitNodesReady(ctx, srv.client, o.deployNodes, 5*time.Minute); err != nil {
		return nil, err
	}
	nodesReady := time.Since(srv.started)
	w, err := watchPods(ctx, srv.client)
	if err != nil {
		return nil, err
	}
	cpuBefore, err := cpuTime(srv.PID())
	if err != nil {
		return nil, err
	}
	created := time.Now()
	labels := map[string]string{"app": "bench"}
	_, err = srv.client.AppsV1().Deployments("default").Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(o.replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec()},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	if err := w.waitRunning(ctx, o.replicas, 10*time.Minute); err != nil {
		return nil, err
	}
	took := time.Since(created)
	rss := srv.rss()
	cpuAfter, err := cpuTime(srv.PID())
	if err != nil {
		return nil, err
	}
	return []row{
		{fmt.Sprintf("%d sim nodes registered and Ready, from start", o.deployNodes), seconds(nodesReady), ""},
		{fmt.Sprintf("deployment of %d replicas, create to all Running", o.replicas), seconds(took), "< 20 s"},
		{"  server CPU from the create to all Running", cpuPerPod(cpuAfter-cpuBefore, o.replicas), ""},
		{"server RSS then", fmt.Sprintf("%.0f MiB", float64(rss)/(1<<20)), "< 1024 MiB"},
	}, nil
}

// clusterCIDR holds a /24 for each of 1,024 nodes: the default /16 has
// room for 256 only, and a node without a pod CIDR starts no pods.
const clusterCIDR = "--cluster-cidr=10.128.0.0/14"

func podSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{
		Name: "main", Image: "registry.k8s.io/pause:3.10",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}},
	}}}
}

// createPods creates n pods from 32 concurrent clients.
func createPods(ctx context.Context, c kubernetes.Interface, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pending-%05d", i)}, Spec: podSpec()}
				if _, err := c.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// podWatch follows every pod's binding and phase from a watch.
type podWatch struct {
	events <-chan watch.Event
	bound  map[string]bool
	run    map[string]bool
	// running counts the pods whose run entry is true.
	running int
	first   time.Time
	last    time.Time
}

func watchPods(ctx context.Context, c kubernetes.Interface) (*podWatch, error) {
	list, err := c.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	wi, err := c.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		return nil, err
	}
	w := &podWatch{events: wi.ResultChan(), bound: map[string]bool{}, run: map[string]bool{}}
	for i := range list.Items {
		w.observe(&list.Items[i])
	}
	return w, nil
}

func (w *podWatch) observe(pod *corev1.Pod) {
	key := pod.Namespace + "/" + pod.Name
	if pod.Spec.NodeName != "" && !w.bound[key] {
		w.bound[key] = true
		now := time.Now()
		if w.first.IsZero() {
			w.first = now
		}
		w.last = now
	}
	running := pod.Status.Phase == corev1.PodRunning
	if running != w.run[key] {
		if running {
			w.running++
		} else {
			w.running--
		}
	}
	w.run[key] = running
}

func (w *podWatch) next(ctx context.Context, deadline <-chan time.Time) error {
	select {
	case ev, ok := <-w.events:
		if !ok {
			return fmt.Errorf("watch closed")
		}
		if pod, ok := ev.Object.(*corev1.Pod); ok && ev.Type != watch.Deleted {
			w.observe(pod)
		}
		return nil
	case <-deadline:
		return fmt.Errorf("timed out")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitBound waits until n pods are bound and returns the first and last
// binding's times.
func (w *podWatch) waitBound(ctx context.Context, n int, timeout time.Duration) (time.Time, time.Time, error) {
	deadline := time.After(timeout)
	for len(w.bound) < n {
		if err := w.next(ctx, deadline); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%d of %d pods bound: %w", len(w.bound), n, err)
		}
	}
	return w.first, w.last, nil
}

// waitRunning waits until n pods are Running.
func (w *podWatch) waitRunning(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for w.running < n {
		if err := w.next(ctx, deadline); err != nil {
			return fmt.Errorf("%d of %d pods Running: %w", w.running, n, err)
		}
	}
	return nil
}
