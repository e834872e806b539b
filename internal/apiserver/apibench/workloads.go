package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

const namespace = "default"

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "registry.example/bench:v1",
			Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
		}}},
	}
}

// benchCreates creates the pods from concurrent clients, each with its own
// connection, as separate client programs would.
func benchCreates(ctx context.Context, srv *server, sz sizes) (result, error) {
	clients := make([]kubernetes.Interface, sz.clients)
	for i := range clients {
		c, err := kubernetes.NewForConfig(srv.config)
		if err != nil {
			return result{}, err
		}
		clients[i] = c
	}
	var next atomic.Int64
	lats := make([][]time.Duration, sz.clients)
	errs := make(chan error, sz.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w, c := range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= sz.pods {
					return
				}
				t := time.Now()
				if _, err := c.CoreV1().Pods(namespace).Create(ctx, pod(fmt.Sprintf("p-%05d", i)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return result{}, err
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	return newResult(sz.pods, elapsed, all), nil
}

// benchLists lists every pod as JSON, as kubectl and most clients ask,
// and times it twice: until the whole response has arrived (the server's
// part), and until client-go has decoded it into typed pods.
func benchLists(ctx context.Context, srv *server, sz sizes) (received, decoded result, err error) {
	cfg := *srv.config
	cfg.ContentType, cfg.AcceptContentTypes = "application/json", "application/json"
	c, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		return result{}, result{}, err
	}
	var rawLat, typedLat []time.Duration
	start := time.Now()
	for range sz.lists {
		t := time.Now()
		body, err := c.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces", namespace, "pods").DoRaw(ctx)
		if err != nil {
			return result{}, result{}, err
		}
		rawLat = append(rawLat, time.Since(t))
		if n := bytes.Count(body, []byte(`"kind":"Pod"`)); n != 0 {
			return result{}, result{}, fmt.Errorf("list items carry their kind (%d)", n)
		}
	}
	rawElapsed := time.Since(start)
	start = time.Now()
	for range sz.lists {
		t := time.Now()
		list, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return result{}, result{}, err
		}
		typedLat = append(typedLat, time.Since(t))
		if len(list.Items) < sz.pods {
			return result{}, result{}, fmt.Errorf("listed %d pods, want %d", len(list.Items), sz.pods)
		}
	}
	return newResult(sz.lists, rawElapsed, rawLat), newResult(sz.lists, time.Since(start), typedLat), nil
}

// benchWatch starts the watchers, then creates pods one after the other.
// Delivery latency runs from the create's commit (the earlier of its
// acknowledgement and its first receipt) to each watcher's receipt.
func benchWatch(ctx context.Context, srv *server, sz sizes) (result, error) {
	c, err := kubernetes.NewForConfig(srv.config)
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	base := time.Now()
	since := func() time.Duration { return time.Since(base) }
	list, err := c.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return result{}, err
	}
	recv := make([][]time.Duration, sz.watchers)
	firstRecv := make([]atomic.Int64, sz.watchEvents)
	var done sync.WaitGroup
	done.Add(sz.watchers)
	for w := range sz.watchers {
		recv[w] = make([]time.Duration, sz.watchEvents)
		wi, err := c.CoreV1().Pods(namespace).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "bench=watch"})
		if err != nil {
			return result{}, err
		}
		go func() {
			defer wi.Stop()
			got := 0
			for ev := range wi.ResultChan() {
				at := since()
				p, ok := ev.Object.(*corev1.Pod)
				if ev.Type != watch.Added || !ok {
					continue
				}
				i, _ := strconv.Atoi(p.Annotations["bench/index"])
				recv[w][i] = at
				firstRecv[i].CompareAndSwap(0, int64(at))
				if got++; got == sz.watchEvents {
					done.Done()
					return
				}
			}
		}()
	}
	acked := make([]time.Duration, sz.watchEvents)
	start := time.Now()
	for i := range sz.watchEvents {
		p := pod(fmt.Sprintf("w-%05d", i))
		p.Labels["bench"] = "watch"
		p.Annotations = map[string]string{"bench/index": strconv.Itoa(i)}
		if _, err := c.CoreV1().Pods(namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return result{}, err
		}
		acked[i] = since()
	}
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		return result{}, fmt.Errorf("watchers did not receive all %d events within 60s", sz.watchEvents)
	}
	var lat []time.Duration
	for w := range recv {
		for i, at := range recv[w] {
			lat = append(lat, at-min(acked[i], time.Duration(firstRecv[i].Load())))
		}
	}
	return newResult(sz.watchers*sz.watchEvents, time.Since(start), lat), nil
}
