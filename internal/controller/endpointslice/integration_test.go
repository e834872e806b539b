package endpointslice_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"mini.dev/mini/internal/apiserver"
	"mini.dev/mini/internal/controller/endpoints"
	"mini.dev/mini/internal/controller/endpointslice"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/registry"
	"mini.dev/mini/internal/store"
)

// startAPI runs mini's API server on a fresh store and returns an admin
// client: the controllers meet the real defaulting, validation,
// generateName and generations.
func startAPI(t *testing.T) kubernetes.Interface {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(store.Config{Dir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.LoadOrCreateCA(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Request{CommonName: "apiserver", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	saKey, err := pki.LoadOrCreateKey(filepath.Join(dir, "tls", "service-account.key"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	api, err := apiserver.New(apiserver.Config{Store: st, Registry: reg, CA: ca, CertPEM: cert, KeyPEM: key,
		ServiceAccountKey: saKey, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Run(ctx) }()
	select {
	case <-api.Ready():
	case err := <-done:
		t.Fatalf("api: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	clientCert, clientKey, err := ca.Issue(pki.Request{CommonName: "system:admin", Organization: []string{"system:masters"}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(&rest.Config{Host: "https://" + api.Addr(),
		TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM, CertData: clientCert, KeyData: clientKey}})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestAgainstAPI runs both controllers on one shared factory against the
// API and follows a service through pod readiness, termination and
// deletion.
func TestAgainstAPI(t *testing.T) {
	client := startAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	factory := informers.NewSharedInformerFactory(client, 0)
	ep, err := endpoints.New(endpoints.Config{Client: client, Informers: factory})
	if err != nil {
		t.Fatal(err)
	}
	es, err := endpointslice.New(endpointslice.Config{Client: client, Informers: factory, MaxEndpointsPerSlice: 2})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, 2)
	factory.Start(runCtx.Done())
	go func() { errs <- ep.Run(runCtx) }()
	go func() { errs <- es.Run(runCtx) }()
	defer func() {
		stop()
		for range 2 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		factory.Shutdown()
	}()

	ns := "default"
	if _, err := client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1",
		Labels: map[string]string{corev1.LabelTopologyZone: "z1"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-%d", i), Labels: map[string]string{"app": "web"}},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ready := corev1.ConditionTrue
		if i == 2 {
			ready = corev1.ConditionFalse
		}
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: fmt.Sprintf("10.42.0.%d", 10+i),
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.Now()}}}
		if _, err := client.CoreV1().Pods(ns).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, "endpoints with 2 ready and 1 not ready", func() bool {
		e, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(e.Subsets) == 1 && len(e.Subsets[0].Addresses) == 2 &&
			len(e.Subsets[0].NotReadyAddresses) == 1 && e.Subsets[0].Ports[0].Port == 8080 && e.Labels["tier"] == "front"
	})
	sliceSel := metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"}
	eventually(t, "two slices of at most two endpoints", func() bool {
		list, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, sliceSel)
		if err != nil || len(list.Items) != 2 {
			return false
		}
		n, ready := 0, 0
		for _, s := range list.Items {
			n += len(s.Endpoints)
			for _, e := range s.Endpoints {
				if *e.Conditions.Ready {
					ready++
				}
				if e.Zone == nil || *e.Zone != "z1" {
					return false
				}
			}
			if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].UID != svc.UID {
				return false
			}
		}
		return n == 3 && ready == 2
	})

	// A ready pod deleted gracefully (no kubelet finishes it) leaves the
	// Endpoints and stays in its slice as serving and terminating.
	if err := client.CoreV1().Pods(ns).Delete(ctx, "web-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "terminating pod out of the Endpoints", func() bool {
		e, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && len(e.Subsets) == 1 && len(e.Subsets[0].Addresses) == 1 &&
			e.Subsets[0].Addresses[0].TargetRef.Name == "web-1"
	})
	eventually(t, "terminating pod serving, not ready, in its slice", func() bool {
		list, err := client.DiscoveryV1().EndpointSlices(ns).List(ctx, sliceSel)
		if err != nil {
			return false
		}
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.TargetRef.Name == "web-0" {
					return !*e.Conditions.Ready && *e.Conditions.Serving && *e.Conditions.Terminating
				}
			}
		}
		return false
	})

	// Deleting the pods' service removes both.
	if err := client.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "endpoints and slices gone", func() bool {
		_, err := client.CoreV1().Endpoints(ns).Get(ctx, "web", metav1.GetOptions{})
		list, lerr := client.DiscoveryV1().EndpointSlices(ns).List(ctx, sliceSel)
		return err != nil && lerr == nil && len(list.Items) == 0
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true,
		func(context.Context) (bool, error) { return cond(), nil })
	if err != nil {
		t.Fatalf("%s: not reached", what)
	}
}
