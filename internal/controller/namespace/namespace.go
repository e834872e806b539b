// Package namespace is upstream's namespace controller: when a namespace
// is deleted, it deletes everything in it and then removes the
// "kubernetes" finalizer, so that the API can let the namespace go.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"mini.dev/mini/internal/controller/reconcile"
)

// Config configures the controller.
type Config struct {
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	Logger  *slog.Logger
}

// Controller finishes the deletion of namespaces.
type Controller struct {
	cfg Config
	log *slog.Logger
}

// New checks the configuration; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Dynamic == nil {
		return nil, errors.New("namespace controller: Client and Dynamic are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{cfg: cfg, log: cfg.Logger.With("component", "namespace-controller")}, nil
}

// errContentRemains asks for another pass: some objects are still going
// (finalizers, graceful deletion).
var errContentRemains = errors.New("namespace still has content")

// Run watches namespaces until ctx ends and finishes those being deleted.
func (c *Controller) Run(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(c.cfg.Client, 0)
	namespaces := factory.Core().V1().Namespaces()
	queue := reconcile.NewQueueWithLimiter("namespace", nil,
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 10*time.Second))
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
			queue.Add(ns.Name)
		}
	}
	if _, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	return reconcile.Run(ctx, queue, 1, []cache.InformerSynced{namespaces.Informer().HasSynced}, c.reconcile, c.log,
		reconcile.KeyName("namespace"), reconcile.ErrorLevel(errorLevel))
}

// errorLevel logs a namespace that only still has content going away at
// Debug: that is the normal wait, not a failure.
func errorLevel(err error) slog.Level {
	if errors.Is(err, errContentRemains) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// reconcile moves one namespace's deletion forward.
func (c *Controller) reconcile(ctx context.Context, name string) error {
	ns, err := c.cfg.Client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}
	remaining, err := c.deleteContent(ctx, name)
	if err != nil {
		return err
	}
	if remaining > 0 {
		return fmt.Errorf("%w: %d objects", errContentRemains, remaining)
	}
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	if _, err := c.cfg.Client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	c.log.Info("namespace emptied", "namespace", name)
	return nil
}

// deleteContent deletes every object of every namespaced resource in the
// namespace, found through discovery as upstream does, and returns how
// many are still there.
func (c *Controller) deleteContent(ctx context.Context, namespace string) (int, error) {
	lists, err := c.cfg.Client.Discovery().ServerPreferredNamespacedResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return 0, err
	}
	background := metav1.DeletePropagationBackground
	remaining := 0
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "deletecollection") {
				continue
			}
			client := c.cfg.Dynamic.Resource(gv.WithResource(r.Name)).Namespace(namespace)
			err := client.DeleteCollection(ctx, metav1.DeleteOptions{PropagationPolicy: &background}, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, fmt.Errorf("deleting %s: %w", r.Name, err)
			}
			left, err := client.List(ctx, metav1.ListOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				return 0, fmt.Errorf("listing %s: %w", r.Name, err)
			}
			if left != nil {
				remaining += len(left.Items)
			}
		}
	}
	return remaining, nil
}
