package server

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/proxy"
)

// dnsServiceInterval is how often the kube-dns Service is checked, so
// that a deleted one comes back, as the kubernetes Service does.
const dnsServiceInterval = time.Minute

// keepDNSService keeps the Service kube-system/kube-dns on the cluster DNS
// address until ctx ends. Upstream it selects the CoreDNS pods; on mini
// every node's DNS answers that address itself, so the Service has no
// selector and no endpoints: it is there for `kubectl get svc` and the
// tutorials that read it, and so that no other Service is given the
// address.
func keepDNSService(ctx context.Context, client kubernetes.Interface, clusterIP string, onError func(error)) {
	for {
		if err := ensureDNSService(ctx, client, clusterIP); err != nil && ctx.Err() == nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(dnsServiceInterval):
		}
	}
}

func ensureDNSService(ctx context.Context, client kubernetes.Interface, clusterIP string) error {
	services := client.CoreV1().Services(metav1.NamespaceSystem)
	_, err := services.Get(ctx, "kube-dns", metav1.GetOptions{})
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kube-dns",
			Labels: map[string]string{
				"k8s-app":                       "kube-dns",
				"kubernetes.io/cluster-service": "true",
				"kubernetes.io/name":            "CoreDNS",
				proxy.NodeLocalLabel:            "true",
			},
		},
		Spec: corev1.ServiceSpec{
			ClusterIP: clusterIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
				{Name: "metrics", Port: 9153, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(9153)},
			},
		},
	}
	_, err = services.Create(ctx, svc, metav1.CreateOptions{FieldManager: "mini-server"})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating the kube-dns Service at %s: %w", clusterIP, err)
	}
	return nil
}

// startDNSService keeps the kube-dns Service, as the controller manager.
func (s *Server) startDNSService(ctx context.Context, ca *pki.CA, apiAddr string) error {
	cfg, err := loopbackConfig(ca, apiAddr, identityControllerManager)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	go keepDNSService(ctx, client, s.cfg.ClusterDNS, func(err error) {
		s.log.Error("keeping the kube-dns Service", "err", err)
	})
	return nil
}
