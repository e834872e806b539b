package serviceaccount

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"mini.dev/mini/internal/controller/reconcile"
)

// DefaultServiceAccountName is the account ensured in every namespace.
const DefaultServiceAccountName = "default"

// Config configures the controller.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder is accepted for uniformity; upstream's controller records
	// no events.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock times the retries; nil is the real clock.
	Clock clock.WithTicker
}

// Controller ensures the default ServiceAccount of every namespace.
type Controller struct {
	client     kubernetes.Interface
	log        *slog.Logger
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	synced     []cache.InformerSynced
	queue      reconcile.Queue
}

// New registers the controller's informer handlers; it starts nothing.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("serviceaccount controller: Client and Informers are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	c := &Controller{
		client: cfg.Client,
		log:    cfg.Logger.With("component", "serviceaccount-controller"),
		queue:  reconcile.NewQueue("serviceaccount", cfg.Clock),
	}
	namespaces := cfg.Informers.Core().V1().Namespaces()
	accounts := cfg.Informers.Core().V1().ServiceAccounts()
	c.namespaces, c.accounts = namespaces.Lister(), accounts.Lister()
	if _, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueueNamespace,
		UpdateFunc: func(_, obj any) { c.enqueueNamespace(obj) },
	}); err != nil {
		return nil, err
	}
	// Only deletion matters: an account deleted is created again.
	if _, err := accounts.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: c.accountDeleted,
	}); err != nil {
		return nil, err
	}
	c.synced = []cache.InformerSynced{namespaces.Informer().HasSynced, accounts.Informer().HasSynced}
	return c, nil
}

// Run ensures accounts until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	return reconcile.Run(ctx, c.queue, 1, c.synced, c.sync, c.log, reconcile.KeyName("namespace"))
}

func (c *Controller) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok {
		c.queue.Add(ns.Name)
	}
}

func (c *Controller) accountDeleted(obj any) {
	sa, ok := reconcile.ObjectOf[*corev1.ServiceAccount](obj)
	if ok && sa.Name == DefaultServiceAccountName {
		c.queue.Add(sa.Namespace)
	}
}

// sync creates the default account of one namespace if it is missing.
// Nothing is created in a namespace that is not active: it is being
// emptied.
func (c *Controller) sync(ctx context.Context, namespace string) error {
	ns, err := c.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase != corev1.NamespaceActive || ns.DeletionTimestamp != nil {
		return nil
	}
	switch _, err := c.accounts.ServiceAccounts(namespace).Get(DefaultServiceAccountName); {
	case err == nil:
		return nil
	case !apierrors.IsNotFound(err):
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultServiceAccountName, Namespace: namespace}}
	_, err = c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause), apierrors.IsNotFound(err):
		// The namespace went or is going meanwhile.
		return nil
	}
	return fmt.Errorf("creating service account %s/%s: %w", namespace, DefaultServiceAccountName, err)
}
