package endpoints

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
)

// Test plan: pods in namespace "ns" on node "n1", IPs 10.42.0.<i>.
const ns = "ns"

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

type podOpt func(*corev1.Pod)

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func noIP(p *corev1.Pod)     { p.Status.PodIP, p.Status.PodIPs = "", nil }
func succeeded(p *corev1.Pod) {
	p.Status.Phase = corev1.PodSucceeded
}
func deleting(p *corev1.Pod) {
	now := metav1.NewTime(created.Add(time.Minute))
	p.DeletionTimestamp = &now
}
func hostname(h, sub string) podOpt {
	return func(p *corev1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = h, sub }
}
func namedPort(name string, port int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
}
func labelled(k, v string) podOpt { return func(p *corev1.Pod) { p.Labels = map[string]string{k: v} } }

func pod(i int, opts ...podOpt) *corev1.Pod {
	ip := fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: fmt.Sprintf("pod%d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
			Labels: map[string]string{"app": "web"}, ResourceVersion: "1",
		},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: created}},
		},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

type svcOpt func(*corev1.Service)

func headless(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }
func publishNotReady(s *corev1.Service) {
	s.Spec.PublishNotReadyAddresses = true
}
func noPorts(s *corev1.Service) { s.Spec.Ports = nil }
func ports(ps ...corev1.ServicePort) svcOpt {
	return func(s *corev1.Service) { s.Spec.Ports = ps }
}

func service(opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: "svc-uid", CreationTimestamp: created,
			Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.20",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports:      []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func addr(i int, opts ...func(*corev1.EndpointAddress)) corev1.EndpointAddress {
	p := pod(i)
	node := "n1"
	a := corev1.EndpointAddress{IP: p.Status.PodIP, NodeName: &node,
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: p.Name, UID: p.UID}}
	for _, o := range opts {
		o(&a)
	}
	return a
}

func epPort(name string, port int32) corev1.EndpointPort {
	return corev1.EndpointPort{Name: name, Port: port, Protocol: corev1.ProtocolTCP}
}

type fixture struct {
	c        *Controller
	client   *fake.Clientset
	recorder *record.FakeRecorder
	factory  informers.SharedInformerFactory
}

// newFixture builds a controller whose informer caches hold objs (not
// started: tests drive sync directly).
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	factory := informers.NewSharedInformerFactory(client, 0)
	rec := record.NewFakeRecorder(10)
	c, err := New(Config{Client: client, Informers: factory, Recorder: rec})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		var err error
		switch o := o.(type) {
		case *corev1.Pod:
			err = factory.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *corev1.Service:
			err = factory.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *corev1.Endpoints:
			err = factory.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, client: client, recorder: rec, factory: factory}
}

func (f *fixture) endpoints(t *testing.T) *corev1.Endpoints {
	t.Helper()
	ep, err := f.client.CoreV1().Endpoints(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ep
}

func TestSubsets(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{{
		name: "ready and not ready",
		svc:  service(),
		pods: []*corev1.Pod{pod(2), pod(1), pod(3, notReady)},
		want: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr(1), addr(2)},
			NotReadyAddresses: []corev1.EndpointAddress{addr(3)},
			Ports:             []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}, {
		name: "pods without IP, terminal or being deleted are left out",
		svc:  service(),
		pods: []*corev1.Pod{pod(1), pod(2, noIP), pod(3, succeeded), pod(4, deleting)},
		want: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{addr(1)},
			Ports:     []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}, {
		name: "publishNotReadyAddresses lists every pod as ready, even one being deleted",
		svc:  service(publishNotReady),
		pods: []*corev1.Pod{pod(1), pod(2, notReady), pod(3, deleting), pod(4, succeeded)},
		want: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{addr(1), addr(2), addr(3)},
			Ports:     []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}, {
		name: "named port with a different number per pod splits the subsets",
		svc:  service(ports(corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromString("web"), Protocol: corev1.ProtocolTCP})),
		pods: []*corev1.Pod{pod(1, namedPort("web", 8080)), pod(2, namedPort("web", 9090)),
			pod(3, namedPort("web", 8080), notReady), pod(4, namedPort("other", 1))},
		want: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr(1)},
			NotReadyAddresses: []corev1.EndpointAddress{addr(3)},
			Ports:             []corev1.EndpointPort{epPort("http", 8080)},
		}, {
			Addresses: []corev1.EndpointAddress{addr(2)},
			Ports:     []corev1.EndpointPort{epPort("http", 9090)},
		}},
	}, {
		name: "ports served by the same pods share one subset",
		svc: service(ports(
			corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "dns", Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP})),
		pods: []*corev1.Pod{
			pod(1, func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}
			}),
			pod(2, func(p *corev1.Pod) {
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}
			}),
			pod(3, namedPort("dns", 5353)), // TCP: does not serve the UDP port
		},
		// Ports group by their exact address set: dns on 1 and 2, http
		// on all three.
		want: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{addr(1), addr(2)},
			Ports:     []corev1.EndpointPort{{Name: "dns", Port: 5353, Protocol: corev1.ProtocolUDP}},
		}, {
			Addresses: []corev1.EndpointAddress{addr(1), addr(2), addr(3)},
			Ports:     []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}, {
		name: "two ports on every pod make one subset",
		svc: service(ports(
			corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP},
			corev1.ServicePort{Name: "https", Port: 443, TargetPort: intstr.FromInt32(8443), Protocol: corev1.ProtocolTCP})),
		pods: []*corev1.Pod{pod(1), pod(2, notReady)},
		want: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr(1)},
			NotReadyAddresses: []corev1.EndpointAddress{addr(2)},
			Ports:             []corev1.EndpointPort{epPort("http", 8080), epPort("https", 8443)},
		}},
	}, {
		name: "hostname only when the pod's subdomain is the service",
		svc:  service(headless),
		pods: []*corev1.Pod{pod(1, hostname("a", "web")), pod(2, hostname("b", "other"))},
		want: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{addr(1, func(a *corev1.EndpointAddress) { a.Hostname = "a" }), addr(2)},
			Ports:     []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}, {
		name: "headless service without ports lists its pods",
		svc:  service(headless, noPorts),
		pods: []*corev1.Pod{pod(1), pod(2, notReady)},
		want: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{addr(1)},
			NotReadyAddresses: []corev1.EndpointAddress{addr(2)},
		}},
	}, {
		name: "a service with a cluster IP and no ports has no subsets",
		svc:  service(noPorts),
		pods: []*corev1.Pod{pod(1)},
		want: []corev1.EndpointSubset{},
	}, {
		name: "pods not matching the selector are not listed",
		svc:  service(),
		pods: []*corev1.Pod{pod(1), pod(2, labelled("app", "db"))},
		want: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{addr(1)},
			Ports:     []corev1.EndpointPort{epPort("http", 8080)},
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := []runtime.Object{tt.svc}
			for _, p := range tt.pods {
				objs = append(objs, p)
			}
			f := newFixture(t, objs...)
			if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
				t.Fatal(err)
			}
			got := f.endpoints(t)
			if !semanticIgnoreResourceVersion.DeepEqual(got.Subsets, tt.want) {
				t.Errorf("subsets:\n got %+v\nwant %+v", got.Subsets, tt.want)
			}
		})
	}
}

func TestLabelsAndAnnotations(t *testing.T) {
	for _, tt := range []struct {
		name       string
		svc        *corev1.Service
		wantLabels map[string]string
	}{
		{"cluster IP", service(), map[string]string{"tier": "front"}},
		{"headless", service(headless), map[string]string{"tier": "front", corev1.IsHeadlessService: ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.svc, pod(1))
			if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
				t.Fatal(err)
			}
			ep := f.endpoints(t)
			if fmt.Sprint(ep.Labels) != fmt.Sprint(tt.wantLabels) {
				t.Errorf("labels = %v, want %v", ep.Labels, tt.wantLabels)
			}
			// First sync of a service: its creation time.
			if got, want := ep.Annotations[corev1.EndpointsLastChangeTriggerTime], created.UTC().Format(time.RFC3339Nano); got != want {
				t.Errorf("trigger time = %q, want %q", got, want)
			}
			if _, ok := ep.Annotations[corev1.EndpointsOverCapacity]; ok {
				t.Error("over-capacity annotation on a small Endpoints")
			}
		})
	}
}

func TestNoWriteWhenUnchanged(t *testing.T) {
	svc := service()
	current := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", ResourceVersion: "5", Labels: map[string]string{"tier": "front"}},
		Subsets:    []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr(1)}, Ports: []corev1.EndpointPort{epPort("http", 8080)}}},
	}
	p := pod(1)
	p.ResourceVersion = "7" // a change the Endpoints does not show
	f := newFixture(t, svc, p, current)
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.client.Actions() {
		if a.GetVerb() != "get" && a.GetVerb() != "list" && a.GetVerb() != "watch" {
			t.Errorf("unexpected write %s %s", a.GetVerb(), a.GetResource().Resource)
		}
	}

	// A changed label is written.
	svc2 := service()
	svc2.Labels["tier"] = "back"
	f = newFixture(t, svc2, p, current)
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if got := f.endpoints(t).Labels["tier"]; got != "back" {
		t.Errorf("label tier = %q after update", got)
	}
}

func TestServiceGoneDeletesEndpoints(t *testing.T) {
	current := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", ResourceVersion: "5"}}
	f := newFixture(t, current)
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.client.CoreV1().Endpoints(ns).Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("endpoints still there: %v", err)
	}
}

func TestSelectorlessAndExternalNameUntouched(t *testing.T) {
	selectorless := service()
	selectorless.Spec.Selector = nil
	external := service()
	external.Spec.Type = corev1.ServiceTypeExternalName
	for _, svc := range []*corev1.Service{selectorless, external} {
		f := newFixture(t, svc, pod(1))
		if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.client.CoreV1().Endpoints(ns).Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%v: endpoints written", svc.Spec)
		}
	}
}

func TestUpdateFailureRecordsEvent(t *testing.T) {
	current := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", ResourceVersion: "5"}}
	f := newFixture(t, service(), pod(1), current)
	f.client.PrependReactor("update", "endpoints", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(corev1.Resource("endpoints"), "web", fmt.Errorf("boom"))
	})
	if err := f.c.sync(context.Background(), ns+"/web"); err == nil {
		t.Fatal("sync succeeded despite the failed update")
	}
	select {
	case ev := <-f.recorder.Events:
		if !strings.HasPrefix(ev, "Warning FailedToUpdateEndpoint Failed to update endpoint ns/web:") {
			t.Errorf("event %q", ev)
		}
	default:
		t.Error("no event")
	}
}

func TestTruncation(t *testing.T) {
	// An existing Endpoints takes the update path, which first compares.
	existing := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", ResourceVersion: "5"}}
	objs := []runtime.Object{service(), existing}
	for i := range 1100 {
		if i < 1050 {
			objs = append(objs, pod(i))
		} else {
			objs = append(objs, pod(i, notReady))
		}
	}
	f := newFixture(t, objs...)
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	ep := f.endpoints(t)
	if ep.Annotations[corev1.EndpointsOverCapacity] != "truncated" {
		t.Errorf("annotations %v", ep.Annotations)
	}
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != maxCapacity || len(ep.Subsets[0].NotReadyAddresses) != 0 {
		t.Errorf("kept %d subsets, %d ready, %d not ready", len(ep.Subsets), len(ep.Subsets[0].Addresses), len(ep.Subsets[0].NotReadyAddresses))
	}

	// A second sync over the truncated object writes nothing.
	if err := f.factory.Core().V1().Endpoints().Informer().GetIndexer().Add(ep); err != nil {
		t.Fatal(err)
	}
	f.client.ClearActions()
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.client.Actions() {
		t.Errorf("unexpected %s", a.GetVerb())
	}
}

func TestTruncateNotReadyFirst(t *testing.T) {
	ep := &corev1.Endpoints{Subsets: []corev1.EndpointSubset{
		{Addresses: make([]corev1.EndpointAddress, 600), NotReadyAddresses: make([]corev1.EndpointAddress, 300)},
		{Addresses: make([]corev1.EndpointAddress, 200), NotReadyAddresses: make([]corev1.EndpointAddress, 100)},
	}}
	if !truncate(ep) {
		t.Fatal("not truncated")
	}
	// 800 ready kept, 200 not ready shared 3:1 rounding up.
	got := []int{len(ep.Subsets[0].Addresses), len(ep.Subsets[0].NotReadyAddresses), len(ep.Subsets[1].Addresses), len(ep.Subsets[1].NotReadyAddresses)}
	if fmt.Sprint(got) != "[600 150 200 50]" {
		t.Errorf("kept %v", got)
	}
}
