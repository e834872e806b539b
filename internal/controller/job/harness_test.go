package job

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
)

// harness drives the controller by hand: the informer caches are filled
// from the fake client by refresh, which also calls the controller's
// event handlers as an informer would, so that every step is
// deterministic.
type harness struct {
	t       *testing.T
	ctx     context.Context
	client  *fake.Clientset
	clock   *clocktesting.FakeClock
	rec     *record.FakeRecorder
	c       *Controller
	podIdx  cache.Indexer
	jobIdx  cache.Indexer
	rv      int
	created atomic.Int32
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	t.Helper()
	h := &harness{t: t, ctx: context.Background(), client: fake.NewClientset(objs...), clock: clocktesting.NewFakeClock(t0), rec: record.NewFakeRecorder(1000)}
	// The fake does not generate names or UIDs; the API server does.
	h.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*corev1.Pod)
		if p.Name == "" {
			n := h.created.Add(1)
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n)
		}
		p.UID = types.UID("uid-" + p.Name)
		p.CreationTimestamp = metav1.NewTime(h.clock.Now())
		return false, nil, nil
	})
	f := informers.NewSharedInformerFactory(h.client, 0)
	c, err := New(Config{Client: h.client, Informers: f, Recorder: h.rec, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	h.podIdx = f.Core().V1().Pods().Informer().GetIndexer()
	h.jobIdx = f.Batch().V1().Jobs().Informer().GetIndexer()
	h.refresh()
	return h
}

// refresh makes the caches equal to the fake's content.
func (h *harness) refresh() {
	h.t.Helper()
	jobs, err := h.client.BatchV1().Jobs("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var jobObjs []any
	for i := range jobs.Items {
		jobObjs = append(jobObjs, &jobs.Items[i])
	}
	if err := h.jobIdx.Replace(jobObjs, ""); err != nil {
		h.t.Fatal(err)
	}
	pods, err := h.client.CoreV1().Pods("").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := range pods.Items {
		p := &pods.Items[i]
		key := p.Namespace + "/" + p.Name
		seen[key] = true
		old, exists, _ := h.podIdx.GetByKey(key)
		if !exists {
			h.rv++
			p.ResourceVersion = strconv.Itoa(h.rv)
			_ = h.podIdx.Add(p)
			h.c.addPod(p)
			continue
		}
		o := old.(*corev1.Pod)
		cmp := p.DeepCopy()
		cmp.ResourceVersion = o.ResourceVersion
		if equality.Semantic.DeepEqual(cmp, o) {
			continue
		}
		h.rv++
		p.ResourceVersion = strconv.Itoa(h.rv)
		_ = h.podIdx.Update(p)
		h.c.updatePod(o, p)
	}
	for _, obj := range h.podIdx.List() {
		p := obj.(*corev1.Pod)
		if !seen[p.Namespace+"/"+p.Name] {
			_ = h.podIdx.Delete(p)
			h.c.deletePod(p)
		}
	}
}

// sync refreshes the caches, syncs the job and refreshes again.
func (h *harness) sync(name string) {
	h.t.Helper()
	h.refresh()
	if err := h.c.sync(h.ctx, "ns/"+name); err != nil {
		h.t.Fatalf("sync: %v", err)
	}
	h.refresh()
}

func (h *harness) job(name string) *batchv1.Job {
	h.t.Helper()
	j, err := h.client.BatchV1().Jobs("ns").Get(h.ctx, name, metav1.GetOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	return j
}

func (h *harness) pods() []*corev1.Pod {
	h.t.Helper()
	list, err := h.client.CoreV1().Pods("ns").List(h.ctx, metav1.ListOptions{})
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*corev1.Pod
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out
}

func (h *harness) activePods() []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range h.pods() {
		if isActive(p) {
			out = append(out, p)
		}
	}
	return out
}

// finish ends a pod as the kubelet would: phase and container state.
func (h *harness) finish(p *corev1.Pod, exitCode int32) {
	h.t.Helper()
	p = p.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	if exitCode != 0 {
		p.Status.Phase = corev1.PodFailed
	}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, FinishedAt: metav1.NewTime(h.clock.Now())}}}}
	if _, err := h.client.CoreV1().Pods(p.Namespace).UpdateStatus(h.ctx, p, metav1.UpdateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func hasEvent(events []string, substr string) bool {
	for _, e := range events {
		if strings.Contains(e, substr) {
			return true
		}
	}
	return false
}

// newJob is a job as the API server stores it after defaulting.
func newJob(name string, completions, parallelism *int32, mutate ...func(*batchv1.Job)) *batchv1.Job {
	uid := types.UID("job-" + name)
	lbls := map[string]string{
		batchv1.ControllerUidLabel: string(uid), batchv1.JobNameLabel: name,
		"controller-uid": string(uid), "job-name": name,
	}
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid},
		Spec: batchv1.JobSpec{
			Completions:          completions,
			Parallelism:          parallelism,
			BackoffLimit:         ptr.To[int32](6),
			CompletionMode:       ptr.To(batchv1.NonIndexedCompletion),
			Suspend:              ptr.To(false),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(uid)}},
			PodReplacementPolicy: ptr.To(batchv1.TerminatingOrFailed),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "c", Image: "busybox"}},
				},
			},
		},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

func cond(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	return findCondition(j.Status.Conditions, t)
}
