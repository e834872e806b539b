package rootcacert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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

// Upstream's names and words, which clients and kubelets rely on.
const (
	ConfigMapName         = "kube-root-ca.crt"
	DataKey               = "ca.crt"
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// Config configures the publisher.
type Config struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder is accepted for uniformity; upstream's publisher records
	// no events.
	Recorder record.EventRecorder
	Logger   *slog.Logger
	// Clock times the retries; nil is the real clock.
	Clock clock.WithTicker
	// RootCA is the PEM bundle published.
	RootCA []byte
}

// Publisher keeps kube-root-ca.crt in every namespace.
type Publisher struct {
	client     kubernetes.Interface
	log        *slog.Logger
	rootCA     string
	namespaces corelisters.NamespaceLister
	configMaps corelisters.ConfigMapLister
	synced     []cache.InformerSynced
	queue      reconcile.Queue
}

// New registers the publisher's informer handlers; it starts nothing.
func New(cfg Config) (*Publisher, error) {
	if cfg.Client == nil || cfg.Informers == nil {
		return nil, errors.New("root CA publisher: Client and Informers are required")
	}
	if len(cfg.RootCA) == 0 {
		return nil, errors.New("root CA publisher: RootCA is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	p := &Publisher{
		client: cfg.Client,
		log:    cfg.Logger.With("component", "root-ca-cert-publisher"),
		rootCA: string(cfg.RootCA),
		queue:  reconcile.NewQueue("root_ca_cert_publisher", cfg.Clock),
	}
	namespaces := cfg.Informers.Core().V1().Namespaces()
	configMaps := cfg.Informers.Core().V1().ConfigMaps()
	p.namespaces, p.configMaps = namespaces.Lister(), configMaps.Lister()
	if _, err := namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.enqueueNamespace,
		UpdateFunc: func(_, obj any) { p.enqueueNamespace(obj) },
	}); err != nil {
		return nil, err
	}
	if _, err := configMaps.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) { p.configMapChanged(obj) },
		DeleteFunc: p.configMapChanged,
	}); err != nil {
		return nil, err
	}
	p.synced = []cache.InformerSynced{namespaces.Informer().HasSynced, configMaps.Informer().HasSynced}
	return p, nil
}

// Run publishes until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	return reconcile.Run(ctx, p.queue, 1, p.synced, p.sync, p.log, reconcile.KeyName("namespace"))
}

func (p *Publisher) enqueueNamespace(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating {
		p.queue.Add(ns.Name)
	}
}

func (p *Publisher) configMapChanged(obj any) {
	cm, ok := reconcile.ObjectOf[*corev1.ConfigMap](obj)
	if ok && cm.Name == ConfigMapName {
		p.queue.Add(cm.Namespace)
	}
}

// sync creates or restores the ConfigMap of one namespace. Nothing is
// written in a namespace that is not active: it is being emptied.
func (p *Publisher) sync(ctx context.Context, namespace string) error {
	ns, err := p.namespaces.Get(namespace)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.Status.Phase == corev1.NamespaceTerminating || ns.DeletionTimestamp != nil {
		return nil
	}
	data := map[string]string{DataKey: p.rootCA}
	cm, err := p.configMaps.ConfigMaps(namespace).Get(ConfigMapName)
	if apierrors.IsNotFound(err) {
		_, err = p.client.CoreV1().ConfigMaps(namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{
				Name:        ConfigMapName,
				Namespace:   namespace,
				Annotations: map[string]string{DescriptionAnnotation: Description},
			},
			Data: data,
		}, metav1.CreateOptions{})
		switch {
		case err == nil:
			return nil
		case apierrors.IsNotFound(err), apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause):
			// The namespace went or is going meanwhile.
			return nil
		}
		return fmt.Errorf("creating %s/%s: %w", namespace, ConfigMapName, err)
	}
	if err != nil {
		return err
	}
	if apiequality.Semantic.DeepEqual(cm.Data, data) && cm.Annotations[DescriptionAnnotation] != "" {
		return nil
	}
	cm = cm.DeepCopy()
	cm.Data = data
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	if _, err := p.client.CoreV1().ConfigMaps(namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("restoring %s/%s: %w", namespace, ConfigMapName, err)
	}
	return nil
}
