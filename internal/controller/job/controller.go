package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/owned"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.WithTicker
	// Workers is how many jobs are synced at once (upstream's
	// --concurrent-job-syncs, default 5).
	Workers int
}

var controllerKind = batchv1.SchemeGroupVersion.WithKind("Job")

// Controller runs Jobs.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	workers  int

	jobLister batchlisters.JobLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	// queue holds "namespace/name" of jobs; orphans holds pods that keep
	// the tracking finalizer while their job is gone or finished.
	queue   reconcile.Queue
	orphans reconcile.Queue

	expectations *owned.Expectations
	finalizers   *uidExpectations
	backoff      *backoffStore
	written      *writtenVersions
}

// New builds the controller and registers its informer handlers; it starts
// nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("job controller: Client, Informers and Recorder are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	jobs := cfg.Informers.Batch().V1().Jobs()
	pods := cfg.Informers.Core().V1().Pods()
	c := &Controller{
		client:    cfg.Client,
		recorder:  cfg.Recorder,
		log:       cfg.Logger.With("component", "job-controller"),
		clock:     cfg.Clock,
		workers:   cfg.Workers,
		jobLister: jobs.Lister(),
		podLister: pods.Lister(),
		synced:    []cache.InformerSynced{jobs.Informer().HasSynced, pods.Informer().HasSynced},
		// Upstream retries API errors from 1 s doubling to 1 min.
		queue: reconcile.NewQueueWithLimiter("job", cfg.Clock,
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](DefaultJobAPIBackOff, MaxJobAPIBackOff)),
		orphans: reconcile.NewQueueWithLimiter("job_orphan_pod", cfg.Clock,
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](DefaultJobAPIBackOff, MaxJobAPIBackOff)),
		expectations: owned.NewExpectations(cfg.Clock),
		finalizers:   newUIDExpectations(),
		backoff:      newBackoffStore(),
		written:      newWrittenVersions(),
	}
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addJob,
		UpdateFunc: c.updateJob,
		DeleteFunc: c.deleteJob,
	}); err != nil {
		return nil, fmt.Errorf("job controller: %w", err)
	}
	if _, err := pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	}); err != nil {
		return nil, fmt.Errorf("job controller: %w", err)
	}
	return c, nil
}

// Run syncs jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	// One worker for the orphan pods, started with the others once the
	// caches sync and stopped after them.
	var wg sync.WaitGroup
	defer wg.Wait()
	defer c.orphans.ShutDown()
	startOrphans := func(ctx context.Context) error {
		wg.Go(func() { reconcile.Work(ctx, c.orphans, c.syncOrphanPod, c.log) })
		return nil
	}
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.sync, c.log, reconcile.OnSynced(startOrphans))
}

func (c *Controller) enqueue(obj any, after time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	if after > 0 {
		c.queue.AddAfter(key, after)
		return
	}
	c.queue.Add(key)
}

func (c *Controller) addJob(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	c.enqueue(j, 0)
	if jobFinished(j) {
		c.cleanupPodFinalizers(j)
	}
}

func (c *Controller) updateJob(old, cur any) {
	o, ok1 := old.(*batchv1.Job)
	j, ok2 := cur.(*batchv1.Job)
	if !ok1 || !ok2 {
		return
	}
	if j.UID != o.UID {
		// Replaced under the same name: the old one's pods are orphans.
		c.deleteJob(cache.DeletedFinalStateUnknown{Key: cache.MetaObjectToName(o).String(), Obj: o})
	}
	c.enqueue(j, 0)
	if jobFinished(j) {
		c.cleanupPodFinalizers(j)
	}
}

func (c *Controller) deleteJob(obj any) {
	j, ok := reconcile.ObjectOf[*batchv1.Job](obj)
	if !ok {
		return
	}
	c.enqueue(j, 0)
	c.cleanupPodFinalizers(j)
}

// cleanupPodFinalizers hands the pods of a deleted or finished job that
// still carry the tracking finalizer to the orphan queue, so that nothing
// keeps them from being deleted.
func (c *Controller) cleanupPodFinalizers(j *batchv1.Job) {
	sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
	if err != nil {
		return
	}
	pods, err := c.podLister.Pods(j.Namespace).List(sel)
	if err != nil {
		return
	}
	for _, p := range pods {
		if metav1.IsControlledBy(p, j) && hasTrackingFinalizer(p) {
			c.orphans.Add(cache.MetaObjectToName(p).String())
		}
	}
}

// jobForPod returns the key of the job controlling p, if that job is in
// the cache with the same UID.
func (c *Controller) jobForPod(p *corev1.Pod) (*batchv1.Job, bool) {
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return nil, false
	}
	j, err := c.jobLister.Jobs(p.Namespace).Get(ref.Name)
	if err != nil || j.UID != ref.UID {
		return nil, false
	}
	return j, true
}

func isJobOwned(p *corev1.Pod) (types.UID, bool) {
	ref := metav1.GetControllerOfNoCopy(p)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return "", false
	}
	return ref.UID, true
}

func (c *Controller) addPod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		// Seen first while going away (controller restart): a deletion.
		c.deletePod(p)
		return
	}
	if _, owned := isJobOwned(p); !owned {
		// An orphan: wake the jobs whose selector matches, they may adopt it.
		c.enqueueMatchingJobs(p)
		return
	}
	j, ok := c.jobForPod(p)
	if !ok {
		if hasTrackingFinalizer(p) {
			c.orphans.Add(cache.MetaObjectToName(p).String())
		}
		return
	}
	key := cache.MetaObjectToName(j).String()
	c.expectations.CreationObserved(key)
	c.enqueue(j, 0)
}

func (c *Controller) updatePod(old, cur any) {
	o, ok1 := old.(*corev1.Pod)
	p, ok2 := cur.(*corev1.Pod)
	// Unlike upstream, same-resourceVersion updates (resyncs) are not
	// skipped: a resync only costs a level-based sync.
	if !ok1 || !ok2 {
		return
	}
	if p.DeletionTimestamp != nil && o.DeletionTimestamp == nil {
		// Graceful deletion started: count it as observed now, as upstream,
		// so the job does not wait the grace period to replace the pod.
		if j, ok := c.jobForPod(p); ok {
			c.expectations.DeletionObserved(cache.MetaObjectToName(j).String())
		}
	}
	if hasTrackingFinalizer(o) && !hasTrackingFinalizer(p) {
		if uid, ok := isJobOwned(p); ok {
			c.finalizers.observed(uid, p.UID)
		}
	}
	oldRef, newRef := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(p)
	if oldRef != nil && (newRef == nil || oldRef.UID != newRef.UID) {
		if j, err := c.jobLister.Jobs(o.Namespace).Get(oldRef.Name); err == nil && j.UID == oldRef.UID {
			c.enqueue(j, 0)
		}
	}
	if newRef == nil {
		c.enqueueMatchingJobs(p)
		return
	}
	j, ok := c.jobForPod(p)
	if !ok {
		if hasTrackingFinalizer(p) {
			c.orphans.Add(cache.MetaObjectToName(p).String())
		}
		return
	}
	if jobFinished(j) && hasTrackingFinalizer(p) {
		c.orphans.Add(cache.MetaObjectToName(p).String())
	}
	c.enqueue(j, 0)
}

func (c *Controller) deletePod(obj any) {
	p, ok := reconcile.ObjectOf[*corev1.Pod](obj)
	if !ok {
		return
	}
	uid, owned := isJobOwned(p)
	if !owned {
		return
	}
	// A deleted pod keeps no finalizer of ours any more.
	c.finalizers.observed(uid, p.UID)
	j, ok := c.jobForPod(p)
	if !ok {
		return
	}
	c.expectations.DeletionObserved(cache.MetaObjectToName(j).String())
	c.enqueue(j, 0)
}

func (c *Controller) enqueueMatchingJobs(p *corev1.Pod) {
	jobs, err := c.jobLister.Jobs(p.Namespace).List(labelsEverything())
	if err != nil {
		return
	}
	for _, j := range jobs {
		sel, err := metav1.LabelSelectorAsSelector(j.Spec.Selector)
		if err != nil || sel.Empty() {
			continue
		}
		if sel.Matches(labelsOf(p)) {
			c.enqueue(j, 0)
		}
	}
}
