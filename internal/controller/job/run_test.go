package job

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// TestRun runs the controller on started informers: a job gets its pods
// and completes once they succeed.
func TestRun(t *testing.T) {
	client := fake.NewClientset(newJob("run", ptr.To[int32](2), ptr.To[int32](2)))
	var n atomic.Int32
	client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		p.Name = fmt.Sprintf("%s%d", p.GenerateName, n.Add(1))
		p.UID = types.UID(p.Name)
		return false, nil, nil
	})
	f := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: f, Recorder: record.NewFakeRecorder(1000)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// The fake's watch misses what happens before it starts: let the
	// informers' watches begin before the controller writes anything.
	var watching sync.Map
	client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, watch.Interface, error) {
		watching.Store(a.GetResource().Resource, true)
		return false, nil, nil
	})
	f.Start(ctx.Done())
	for _, r := range []string{"pods", "jobs"} {
		deadline := time.Now().Add(10 * time.Second)
		for _, ok := watching.Load(r); !ok; _, ok = watching.Load(r) {
			if time.Now().After(deadline) {
				t.Fatalf("no watch on %s", r)
			}
			time.Sleep(time.Millisecond)
		}
	}
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		f.Shutdown()
	}()
	poll := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var pods *corev1.PodList
	poll("two pods", func() bool {
		pods, _ = client.CoreV1().Pods("ns").List(ctx, metav1.ListOptions{})
		return len(pods.Items) == 2
	})
	for i := range pods.Items {
		p := &pods.Items[i]
		p.Status.Phase = corev1.PodSucceeded
		if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	poll("Complete", func() bool {
		j, err := client.BatchV1().Jobs("ns").Get(ctx, "run", metav1.GetOptions{})
		return err == nil && conditionTrue(j, batchv1.JobComplete) && j.Status.Succeeded == 2
	})
}
