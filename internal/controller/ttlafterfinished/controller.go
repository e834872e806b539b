package ttlafterfinished

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder is accepted for symmetry with the other controllers;
	// upstream records no events here.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	Clock    clock.WithTicker
	// Workers defaults to upstream's --concurrent-ttl-after-finished-syncs, 5.
	Workers int
}

// Controller deletes finished Jobs whose TTL has passed.
type Controller struct {
	client  kubernetes.Interface
	log     *slog.Logger
	clock   clock.WithTicker
	workers int
	lister  batchlisters.JobLister
	synced  cache.InformerSynced
	queue   reconcile.Queue
}

// New builds the controller and registers its informer handlers; it starts
// nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("ttl-after-finished controller: Client and Informers are required")
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
	c := &Controller{
		client:  cfg.Client,
		log:     cfg.Logger.With("component", "ttl-after-finished-controller"),
		clock:   cfg.Clock,
		workers: cfg.Workers,
		lister:  jobs.Lister(),
		synced:  jobs.Informer().HasSynced,
		queue:   reconcile.NewQueue("ttl_jobs_to_delete", cfg.Clock),
	}
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, cur any) { c.enqueue(cur) },
	}); err != nil {
		return nil, fmt.Errorf("ttl-after-finished controller: %w", err)
	}
	return c, nil
}

// Run deletes expired jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, c.workers, []cache.InformerSynced{c.synced}, c.sync, c.log, reconcile.KeyName("job"))
}

func (c *Controller) enqueue(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok || !needsCleanup(j) {
		return
	}
	key, err := cache.MetaNamespaceKeyFunc(j)
	if err != nil {
		return
	}
	c.queue.Add(key)
}

// sync deletes the job if its TTL has passed, or comes back when it will.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	j, err := c.lister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if expired, err := c.expired(key, j); err != nil || !expired {
		return err
	}
	// The cache may be stale (the TTL changed, the job was replaced):
	// check the API's copy before deleting, and delete only that one.
	fresh, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting job %s: %w", key, err)
	}
	if expired, err := c.expired(key, fresh); err != nil || !expired {
		return err
	}
	err = c.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
		Preconditions:     &metav1.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion},
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting job %s: %w", key, err)
	}
	c.log.Info("deleted finished job after its TTL", "job", key)
	return nil
}

// expired reports whether j's TTL has passed; if not yet, it requeues the
// key for when it will.
func (c *Controller) expired(key string, j *batchv1.Job) (bool, error) {
	if !needsCleanup(j) || j.DeletionTimestamp != nil {
		return false, nil
	}
	finishedAt, err := finishTime(j)
	if err != nil {
		return false, err
	}
	now := c.clock.Now()
	if finishedAt.After(now) {
		c.log.Warn("job finished in the future; clock skew? cleanup deferred", "job", key)
	}
	expireAt := finishedAt.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	if left := expireAt.Sub(now); left > 0 {
		c.queue.AddAfter(key, left)
		return false, nil
	}
	return true, nil
}

func needsCleanup(j *batchv1.Job) bool {
	if j.Spec.TTLSecondsAfterFinished == nil {
		return false
	}
	_, ok := finishCondition(j)
	return ok
}

func finishCondition(j *batchv1.Job) (batchv1.JobCondition, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c, true
		}
	}
	return batchv1.JobCondition{}, false
}

func finishTime(j *batchv1.Job) (time.Time, error) {
	c, _ := finishCondition(j)
	if c.LastTransitionTime.IsZero() {
		return time.Time{}, fmt.Errorf("unable to find the time when the Job %s/%s finished", j.Namespace, j.Name)
	}
	return c.LastTransitionTime.Time, nil
}
