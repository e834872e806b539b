package apiserver

import (
	"context"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// newServiceTestServer is a bootstrapped, repaired server on a fresh
// store, not serving.
func newServiceTestServer(t *testing.T, cfg Config) (*Server, *store.Store) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Request{CommonName: "api", DNSNames: []string{"localhost"}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Registry, err = registry.Builtin(); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.CA, cfg.CertPEM, cfg.KeyPEM = st, ca, cert, key
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends the kubernetes Service's loop, which never starts: the server never serves
	if err := s.bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.repairServices(ctx); err != nil {
		t.Fatal(err)
	}
	return s, st
}

func TestReconcileKubernetesService(t *testing.T) {
	tests := []struct {
		name                  string
		cfg                   Config
		wantIP, wantEndpoint  string
		wantAddressType       discoveryv1.AddressType
		firstPort, secondPort int32
	}{
		{name: "defaults", wantIP: "10.43.0.1", wantEndpoint: "127.0.0.1", wantAddressType: discoveryv1.AddressTypeIPv4,
			firstPort: 6443, secondPort: 6443},
		{name: "another CIDR, address and port", cfg: Config{ServiceCIDR: "10.96.0.0/12", AdvertiseAddress: "192.168.1.10"},
			wantIP: "10.96.0.1", wantEndpoint: "192.168.1.10", wantAddressType: discoveryv1.AddressTypeIPv4, firstPort: 6443, secondPort: 7443},
		{name: "IPv6 advertise address", cfg: Config{AdvertiseAddress: "fd00::10"},
			wantIP: "10.43.0.1", wantEndpoint: "fd00::10", wantAddressType: discoveryv1.AddressTypeIPv6, firstPort: 6443, secondPort: 6443},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := newServiceTestServer(t, tt.cfg)
			ctx := asLoopback(context.Background())
			if err := s.reconcileKubernetesService(ctx, tt.firstPort, true); err != nil {
				t.Fatal(err)
			}
			rev := st.Revision()
			if err := s.reconcileKubernetesService(ctx, tt.firstPort, false); err != nil {
				t.Fatal(err)
			}
			if st.Revision() != rev {
				t.Errorf("a second round wrote: revision %d -> %d", rev, st.Revision())
			}
			if tt.secondPort != tt.firstPort {
				// A restart on another port: the first round fixes it all.
				if err := s.reconcileKubernetesService(ctx, tt.secondPort, true); err != nil {
					t.Fatal(err)
				}
			}
			port := tt.secondPort

			svc := getTyped[*corev1.Service](t, s, servicesGVR, "kubernetes")
			if svc.Spec.ClusterIP != tt.wantIP || svc.Spec.Ports[0].TargetPort.IntVal != port || svc.Spec.Ports[0].Port != 443 ||
				svc.Spec.Ports[0].Name != "https" || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
				svc.Labels["provider"] != "kubernetes" || svc.Labels["component"] != "apiserver" {
				t.Errorf("service: %+v", svc)
			}
			ep := getTyped[*corev1.Endpoints](t, s, endpointsGVR, "kubernetes")
			if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 || ep.Subsets[0].Addresses[0].IP != tt.wantEndpoint ||
				ep.Subsets[0].Ports[0].Port != port || ep.Labels[discoveryv1.LabelSkipMirror] != "true" {
				t.Errorf("endpoints: %+v", ep)
			}
			slice := getTyped[*discoveryv1.EndpointSlice](t, s, endpointSlicesGVR, "kubernetes")
			if slice.AddressType != tt.wantAddressType || slice.Endpoints[0].Addresses[0] != tt.wantEndpoint ||
				*slice.Ports[0].Port != port || slice.Labels[discoveryv1.LabelServiceName] != "kubernetes" || slice.Generation < 1 {
				t.Errorf("endpoint slice: %+v", slice)
			}
		})
	}
}

func getTyped[T any](t *testing.T, s *Server, gvr schema.GroupVersionResource, name string) T {
	t.Helper()
	res, ok := s.cfg.Registry.Lookup(gvr)
	if !ok {
		t.Fatalf("no resource %s", gvr)
	}
	obj, _, err := s.getObject(context.Background(), res, metav1.NamespaceDefault, name)
	if err != nil {
		t.Fatal(err)
	}
	return obj.(T)
}
