package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

var finished = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func job(name string, ttl *int32, cond batchv1.JobConditionType) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), ResourceVersion: "7"}}
	j.Spec.TTLSecondsAfterFinished = ttl
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(finished)}}
	}
	return j
}

func TestTTL(t *testing.T) {
	tests := []struct {
		name        string
		job         *batchv1.Job
		elapsed     time.Duration
		wantDeleted bool
		wantRequeue bool
	}{
		{name: "complete and expired", job: job("a", ptr.To[int32](60), batchv1.JobComplete), elapsed: 60 * time.Second, wantDeleted: true},
		{name: "failed and expired", job: job("b", ptr.To[int32](0), batchv1.JobFailed), elapsed: 0, wantDeleted: true},
		{name: "not yet", job: job("c", ptr.To[int32](60), batchv1.JobComplete), elapsed: 59 * time.Second, wantRequeue: true},
		{name: "no ttl", job: job("d", nil, batchv1.JobComplete), elapsed: time.Hour},
		{name: "running", job: job("e", ptr.To[int32](0), ""), elapsed: time.Hour},
		{name: "only a FailureTarget", job: job("f", ptr.To[int32](0), batchv1.JobFailureTarget), elapsed: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := fake.NewClientset(tt.job)
			var deletes []k8stesting.DeleteActionImpl
			client.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
				deletes = append(deletes, a.(k8stesting.DeleteActionImpl))
				return false, nil, nil
			})
			clk := clocktesting.NewFakeClock(finished.Add(tt.elapsed))
			f := informers.NewSharedInformerFactory(client, 0)
			c, err := New(Config{Client: client, Informers: f, Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			_ = f.Batch().V1().Jobs().Informer().GetIndexer().Add(tt.job)
			if err := c.sync(context.Background(), "ns/"+tt.job.Name); err != nil {
				t.Fatal(err)
			}
			_, err = client.BatchV1().Jobs("ns").Get(context.Background(), tt.job.Name, metav1.GetOptions{})
			if deleted := apierrors.IsNotFound(err); deleted != tt.wantDeleted {
				t.Fatalf("deleted = %v, want %v", deleted, tt.wantDeleted)
			}
			if tt.wantDeleted {
				opts := deletes[0].DeleteOptions
				if opts.PropagationPolicy == nil || *opts.PropagationPolicy != metav1.DeletePropagationBackground ||
					opts.Preconditions == nil || *opts.Preconditions.ResourceVersion != "7" {
					t.Fatalf("delete options %+v", opts)
				}
			}
			// A requeue shows as an item that becomes ready when the
			// fake clock reaches the expiry.
			if tt.wantRequeue {
				if c.queue.Len() != 0 {
					t.Fatal("requeued too early")
				}
				clk.Step(time.Second)
				deadline := time.Now().Add(5 * time.Second)
				for c.queue.Len() == 0 {
					if time.Now().After(deadline) {
						t.Fatal("job not requeued at its expiry")
					}
					time.Sleep(time.Millisecond) // the delaying queue moves it on its own goroutine
				}
			}
		})
	}
}
