package apiserver

// The kubernetes Service in the default namespace is how pods reach the
// API: upstream's bootstrap controller creates it (the first address of
// the service CIDR, port https 443/TCP to the API's port) and its endpoint
// reconciler keeps an Endpoints and an EndpointSlice of the same name
// pointing at the advertise address. Both run once the server serves
// (upstream runs them as a post-start hook) and again every ten seconds,
// so a deleted kubernetes Service comes back.
//
// The Endpoints and the EndpointSlice are written as the server's own,
// past validation: mini may advertise a loopback address (a laptop with no
// other), which upstream's endpoint validation refuses.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"

	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

const (
	kubernetesServiceName = "kubernetes"
	// kubernetesServiceInterval is upstream's --endpoint-reconciler
	// interval.
	kubernetesServiceInterval = 10 * time.Second
	// apiServerManager is the field manager of the server's own writes.
	apiServerManager = "kube-apiserver"
)

var endpointSlicesGVR = discoveryv1.SchemeGroupVersion.WithResource("endpointslices")

// bootstrapKubernetesService starts keeping the kubernetes Service and its
// endpoints once the server serves, until ctx ends.
func (s *Server) bootstrapKubernetesService(ctx context.Context) {
	if _, ok := s.cfg.Registry.Lookup(servicesGVR); !ok {
		return
	}
	go s.runKubernetesService(ctx)
}

func (s *Server) runKubernetesService(ctx context.Context) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return
	}
	_, p, _ := net.SplitHostPort(s.Addr())
	port, _ := strconv.Atoi(p)
	first := true
	for {
		err := s.reconcileKubernetesService(ctx, int32(port), first)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.log.Error("reconciling the kubernetes service", "err", err)
		} else {
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(kubernetesServiceInterval):
		}
	}
}

// kubernetesService is the kubernetes Service as upstream creates it.
func kubernetesService(clusterIP netip.Addr, port int32) *corev1.Service {
	singleStack := corev1.IPFamilyPolicySingleStack
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:      kubernetesServiceName,
			Namespace: metav1.NamespaceDefault,
			Labels:    map[string]string{"provider": "kubernetes", "component": "apiserver"},
		},
		Spec: corev1.ServiceSpec{
			Ports:           kubernetesServicePorts(port),
			ClusterIP:       clusterIP.String(),
			IPFamilyPolicy:  &singleStack,
			SessionAffinity: corev1.ServiceAffinityNone,
			Type:            corev1.ServiceTypeClusterIP,
		},
	}
}

func kubernetesServicePorts(port int32) []corev1.ServicePort {
	return []corev1.ServicePort{{Name: "https", Protocol: corev1.ProtocolTCP, Port: 443, TargetPort: intstr.FromInt32(port)}}
}

// reconcileKubernetesService creates the kubernetes Service if it is
// missing (on the first round after start, it also corrects its ports and
// type), then makes its Endpoints and EndpointSlice point at the advertise
// address and the API's port.
func (s *Server) reconcileKubernetesService(ctx context.Context, port int32, fixSpec bool) error {
	ips, err := newIPRange(s.cfg.ServiceCIDR)
	if err != nil {
		return fmt.Errorf("service CIDR %q: %w", s.cfg.ServiceCIDR, err)
	}
	advertise, err := netip.ParseAddr(s.cfg.AdvertiseAddress)
	if err != nil {
		return fmt.Errorf("advertise address %q: %w", s.cfg.AdvertiseAddress, err)
	}
	if err := s.ensureKubernetesService(ctx, ips.addr(0), port, fixSpec); err != nil {
		return err
	}
	if res, ok := s.cfg.Registry.Lookup(endpointsGVR); ok {
		err := s.reconcileOwned(ctx, res, metav1.NamespaceDefault, kubernetesServiceName, func(obj runtime.Object) {
			ep := obj.(*corev1.Endpoints)
			ep.Labels = map[string]string{discoveryv1.LabelSkipMirror: "true"}
			ep.Subsets = []corev1.EndpointSubset{{
				Addresses: []corev1.EndpointAddress{{IP: advertise.String()}},
				Ports:     []corev1.EndpointPort{{Name: "https", Port: port, Protocol: corev1.ProtocolTCP}},
			}}
		})
		if err != nil {
			return fmt.Errorf("endpoints: %w", err)
		}
	}
	if res, ok := s.cfg.Registry.Lookup(endpointSlicesGVR); ok {
		if err := s.reconcileKubernetesSlice(ctx, res, advertise, port); err != nil {
			return fmt.Errorf("endpointslice: %w", err)
		}
	}
	return nil
}

func (s *Server) ensureKubernetesService(ctx context.Context, clusterIP netip.Addr, port int32, fixSpec bool) error {
	res, _ := s.cfg.Registry.Lookup(servicesGVR)
	want := kubernetesService(clusterIP, port)
	cur, _, err := s.getObject(ctx, res, metav1.NamespaceDefault, kubernetesServiceName)
	switch {
	case apierrors.IsNotFound(err):
		_, err = s.createObject(ctx, res, metav1.NamespaceDefault, want, writeOptions{manager: apiServerManager})
		if apierrors.IsAlreadyExists(err) {
			return nil // created meanwhile; the next round looks again
		}
		return err
	case err != nil:
		return err
	case !fixSpec || kubernetesServiceCorrect(cur.(*corev1.Service), want):
		return nil
	}
	s.log.Warn("resetting the kubernetes service's ports and type")
	info := requestInfo{Verb: "update", GVR: res.GVR, Namespace: metav1.NamespaceDefault, Name: kubernetesServiceName}
	_, err = s.updateObject(ctx, res, info, writeOptions{manager: apiServerManager}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		svc := cur.(*corev1.Service)
		svc.Spec.Ports, svc.Spec.Type = want.Spec.Ports, want.Spec.Type
		return svc, nil
	})
	return err
}

// kubernetesServiceCorrect is upstream's checkServiceFormat: the type and
// the ports as created.
func kubernetesServiceCorrect(svc, want *corev1.Service) bool {
	if svc.Spec.Type != want.Spec.Type || len(svc.Spec.Ports) != len(want.Spec.Ports) {
		return false
	}
	for i := range want.Spec.Ports {
		if svc.Spec.Ports[i] != want.Spec.Ports[i] {
			return false
		}
	}
	return true
}

// reconcileKubernetesSlice keeps the EndpointSlice as upstream's
// EndpointsAdapter writes it; a slice of another address type (immutable)
// is replaced.
func (s *Server) reconcileKubernetesSlice(ctx context.Context, res *registry.Resource, advertise netip.Addr, port int32) error {
	addressType := discoveryv1.AddressTypeIPv4
	if advertise.Is6() && !advertise.Is4In6() {
		addressType = discoveryv1.AddressTypeIPv6
	}
	cur, _, err := s.getObject(ctx, res, metav1.NamespaceDefault, kubernetesServiceName)
	if err == nil && cur.(*discoveryv1.EndpointSlice).AddressType != addressType {
		_, _, err = s.deleteObject(ctx, res, metav1.NamespaceDefault, kubernetesServiceName, metav1.DeleteOptions{})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return s.reconcileOwned(ctx, res, metav1.NamespaceDefault, kubernetesServiceName, func(obj runtime.Object) {
		slice := obj.(*discoveryv1.EndpointSlice)
		ready := true
		name, protocol := "https", corev1.ProtocolTCP
		slice.Labels = map[string]string{discoveryv1.LabelServiceName: kubernetesServiceName}
		slice.AddressType = addressType
		slice.Endpoints = []discoveryv1.Endpoint{{
			Addresses:  []string{advertise.Unmap().String()},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
		}}
		slice.Ports = []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &protocol}}
	})
}

// reconcileOwned makes one of the server's own objects what set makes of
// it: set is applied to the stored object (or a new one), which is written
// back, recorded for the kube-apiserver field manager, only if it changed.
// Validation is skipped (see the note at the top).
func (s *Server) reconcileOwned(ctx context.Context, res *registry.Resource, namespace, name string, set func(obj runtime.Object)) error {
	key := objectKey(res, namespace, name)
	kv, err := s.cfg.Store.Get(ctx, key)
	var cur runtime.Object
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if cur, err = s.decodeObject(res, kv); err != nil {
			return err
		}
	}
	obj := res.New()
	if cur != nil {
		obj = cur.DeepCopyObject()
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	m.SetName(name)
	m.SetNamespace(namespace)
	set(obj)
	if res.Default != nil {
		res.Default(obj)
	}
	fm, err := s.fields.get(s.codecs.scheme, res, "")
	if err != nil {
		return err
	}
	if cur == nil {
		obj = fm.UpdateNoErrors(res.New(), obj, apiServerManager)
		if m, err = meta.Accessor(obj); err != nil {
			return err
		}
		fillCreateMeta(res, m)
		value, err := s.encodeObject(res, obj)
		if err != nil {
			return err
		}
		_, err = s.cfg.Store.Create(ctx, key, value)
		if errors.Is(err, store.ErrExists) {
			return nil // created meanwhile; the next round looks again
		}
		return err
	}
	obj = fm.UpdateNoErrors(cur, obj, apiServerManager)
	prepareUpdate(res, obj, cur, "")
	value, err := s.encodeObject(res, obj)
	if err != nil {
		return err
	}
	if bytes.Equal(value, kv.Value) {
		return nil
	}
	_, err = s.cfg.Store.Update(ctx, key, value, kv.ModRevision)
	return err
}
