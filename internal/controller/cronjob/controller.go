package cronjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	Recorder  record.EventRecorder
	Logger    *slog.Logger
	Clock     clock.WithTicker
	// Workers is how many cron jobs are synced at once (upstream's
	// --concurrent-cron-job-syncs, default 5).
	Workers int
}

var controllerKind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Controller runs CronJobs.
type Controller struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
	log      *slog.Logger
	clock    clock.WithTicker
	workers  int

	cronJobLister batchlisters.CronJobLister
	jobLister     batchlisters.JobLister
	synced        []cache.InformerSynced
	queue         reconcile.Queue
}

// New builds the controller and registers its informer handlers; it starts
// nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil || cfg.Recorder == nil {
		return nil, errors.New("cronjob controller: Client, Informers and Recorder are required")
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
	cronJobs := cfg.Informers.Batch().V1().CronJobs()
	jobs := cfg.Informers.Batch().V1().Jobs()
	c := &Controller{
		client:        cfg.Client,
		recorder:      cfg.Recorder,
		log:           cfg.Logger.With("component", "cronjob-controller"),
		clock:         cfg.Clock,
		workers:       cfg.Workers,
		cronJobLister: cronJobs.Lister(),
		jobLister:     jobs.Lister(),
		synced:        []cache.InformerSynced{cronJobs.Informer().HasSynced, jobs.Informer().HasSynced},
		queue:         reconcile.NewQueue("cronjob", cfg.Clock),
	}
	if _, err := cronJobs.Informer().AddEventHandler(reconcile.EnqueueHandler(c.queue)); err != nil {
		return nil, fmt.Errorf("cronjob controller: %w", err)
	}
	if _, err := jobs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.jobChanged,
		UpdateFunc: func(old, cur any) { c.jobChanged(old); c.jobChanged(cur) },
		DeleteFunc: c.jobChanged,
	}); err != nil {
		return nil, fmt.Errorf("cronjob controller: %w", err)
	}
	return c, nil
}

// Run syncs cron jobs until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, c.workers, c.synced, c.syncAndRequeue, c.log, reconcile.KeyName("cronjob"))
}

// syncAndRequeue syncs key and, when the schedule asks for it, queues it
// again for the next time it is due.
func (c *Controller) syncAndRequeue(ctx context.Context, key string) error {
	requeueAfter, err := c.sync(ctx, key)
	if err == nil && requeueAfter != nil {
		c.queue.AddAfter(key, *requeueAfter)
	}
	return err
}

func (c *Controller) enqueue(obj any) { reconcile.Enqueue(c.queue, obj) }

// jobChanged wakes the cron job controlling a job.
func (c *Controller) jobChanged(obj any) {
	j, ok := reconcile.ObjectOf[*batchv1.Job](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(j)
	if ref == nil || ref.Kind != controllerKind.Kind || ref.APIVersion != controllerKind.GroupVersion().String() {
		return
	}
	cj, err := c.cronJobLister.CronJobs(j.Namespace).Get(ref.Name)
	if err != nil || cj.UID != ref.UID {
		return
	}
	c.enqueue(cj)
}

// now is the controller's time, from the injected clock.
func (c *Controller) now() time.Time { return c.clock.Now() }
