package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
)

// Test plan: namespace "ns", service "web" (10.43.0.20) selecting
// app=web; pod i has IP 10.42.x.y and runs on node "n1" in zone "z1".
const ns = "ns"

var created = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

type podOpt func(*corev1.Pod)

func notReady(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }
func terminating(p *corev1.Pod) {
	now := metav1.NewTime(created.Add(time.Minute))
	p.DeletionTimestamp = &now
}
func onNode(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func namedPort(name string, port int32) podOpt {
	return func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
}

func pod(i int, opts ...podOpt) *corev1.Pod {
	ip := fmt.Sprintf("10.42.%d.%d", i/250, i%250+1)
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("pod%03d", i), UID: types.UID(fmt.Sprintf("uid-%d", i)),
			Labels: map[string]string{"app": "web"}, ResourceVersion: "1"},
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

func publishNotReady(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }
func headless(s *corev1.Service)        { s.Spec.ClusterIP = corev1.ClusterIPNone }

func service(opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", UID: "svc-uid", CreationTimestamp: created,
			Labels: map[string]string{"tier": "front"}},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"}, ClusterIP: "10.43.0.20",
			IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080),
				Protocol: corev1.ProtocolTCP, AppProtocol: ptr.To("http")}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func node(name, zone string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelTopologyZone: zone}}}
}

type fixture struct {
	c       *Controller
	client  *fake.Clientset
	factory informers.SharedInformerFactory
	rec     *record.FakeRecorder
}

// newFixture builds a controller over caches holding objs, not started:
// tests call sync and then refresh the slice cache from the client, as an
// informer would. The fake client learns generateName, UIDs and
// generations, as the API does them.
func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	client := fake.NewClientset(objs...)
	var n atomic.Int64
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		id := n.Add(1)
		s.Name = fmt.Sprintf("%s%05d", s.GenerateName, id)
		s.UID = types.UID(fmt.Sprintf("slice-uid-%d", id))
		s.Generation = 1
		return false, nil, nil
	})
	client.PrependReactor("update", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.UpdateAction).GetObject().(*discoveryv1.EndpointSlice)
		s.Generation++
		return false, nil, nil
	})
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
		case *corev1.Node:
			err = factory.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return &fixture{c: c, client: client, factory: factory, rec: rec}
}

// sync runs one sync and then brings the slice cache up to date.
func (f *fixture) sync(t *testing.T) {
	t.Helper()
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	f.refresh(t)
}

func (f *fixture) refresh(t *testing.T) {
	t.Helper()
	var objs []any
	for _, s := range f.slices(t) {
		objs = append(objs, s)
	}
	if err := f.factory.Discovery().V1().EndpointSlices().Informer().GetIndexer().Replace(objs, ""); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) slices(t *testing.T) []*discoveryv1.EndpointSlice {
	t.Helper()
	list, err := f.client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*discoveryv1.EndpointSlice
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return len(b.Endpoints) - len(a.Endpoints) })
	return out
}

func (f *fixture) setPods(t *testing.T, pods ...*corev1.Pod) {
	t.Helper()
	var objs []any
	for _, p := range pods {
		objs = append(objs, p)
	}
	if err := f.factory.Core().V1().Pods().Informer().GetIndexer().Replace(objs, ""); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if v := a.GetVerb(); v == "create" || v == "update" || v == "delete" {
			out = append(out, v)
		}
	}
	return out
}

func TestConditions(t *testing.T) {
	type conds struct{ ready, serving, terminating bool }
	tests := []struct {
		name string
		svc  *corev1.Service
		pod  *corev1.Pod
		want conds
	}{
		{"ready", service(), pod(1), conds{true, true, false}},
		{"not ready", service(), pod(1, notReady), conds{false, false, false}},
		{"ready and terminating: serving, not ready", service(), pod(1, terminating), conds{false, true, true}},
		{"not ready and terminating", service(), pod(1, notReady, terminating), conds{false, false, true}},
		{"publishNotReadyAddresses: not ready is ready", service(publishNotReady), pod(1, notReady), conds{true, false, false}},
		{"publishNotReadyAddresses: terminating is ready", service(publishNotReady), pod(1, terminating), conds{true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.svc, tt.pod, node("n1", "z1"))
			f.sync(t)
			ss := f.slices(t)
			if len(ss) != 1 || len(ss[0].Endpoints) != 1 {
				t.Fatalf("slices %+v", ss)
			}
			c := ss[0].Endpoints[0].Conditions
			got := conds{*c.Ready, *c.Serving, *c.Terminating}
			if got != tt.want {
				t.Errorf("conditions %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSliceContent(t *testing.T) {
	p := pod(1)
	p.Spec.Hostname, p.Spec.Subdomain = "h1", "web"
	f := newFixture(t, service(headless), p, node("n1", "z1"))
	f.sync(t)
	ss := f.slices(t)
	if len(ss) != 1 {
		t.Fatalf("%d slices", len(ss))
	}
	s := ss[0]
	if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 {
		t.Errorf("generateName %q addressType %q", s.GenerateName, s.AddressType)
	}
	wantLabels := map[string]string{"tier": "front", corev1.IsHeadlessService: "",
		discoveryv1.LabelServiceName: "web", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}
	if fmt.Sprint(s.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels %v", s.Labels)
	}
	if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Service" || s.OwnerReferences[0].UID != "svc-uid" ||
		!*s.OwnerReferences[0].Controller || !*s.OwnerReferences[0].BlockOwnerDeletion {
		t.Errorf("owner %+v", s.OwnerReferences)
	}
	if s.Annotations[corev1.EndpointsLastChangeTriggerTime] != created.UTC().Format(time.RFC3339Nano) {
		t.Errorf("annotations %v", s.Annotations)
	}
	if len(s.Ports) != 1 || *s.Ports[0].Name != "http" || *s.Ports[0].Port != 8080 ||
		*s.Ports[0].Protocol != corev1.ProtocolTCP || *s.Ports[0].AppProtocol != "http" {
		t.Errorf("ports %+v", s.Ports)
	}
	ep := s.Endpoints[0]
	if fmt.Sprint(ep.Addresses) != "[10.42.0.2]" || *ep.Hostname != "h1" || *ep.NodeName != "n1" || *ep.Zone != "z1" ||
		ep.TargetRef.Kind != "Pod" || ep.TargetRef.Name != "pod001" || ep.TargetRef.UID != "uid-1" {
		t.Errorf("endpoint %+v", ep)
	}
}

func TestSlicingAndInPlaceUpdates(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 250 {
		pods = append(pods, pod(i))
	}
	objs := []runtime.Object{service(), node("n1", "z1")}
	for _, p := range pods {
		objs = append(objs, p)
	}
	f := newFixture(t, objs...)
	f.sync(t)
	var sizes []int
	for _, s := range f.slices(t) {
		sizes = append(sizes, len(s.Endpoints))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Fatalf("slice sizes %v", sizes)
	}

	// Nothing changed: nothing written.
	f.client.ClearActions()
	f.sync(t)
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes %v on an unchanged service", w)
	}

	// One pod not ready: exactly one slice rewritten.
	pods[120] = pod(120, notReady)
	f.setPods(t, pods...)
	f.client.ClearActions()
	f.sync(t)
	if w := f.writes(); fmt.Sprint(w) != "[update]" {
		t.Errorf("writes %v, want one update", w)
	}

	// 30 more pods fill the half-empty slice rather than make a new one.
	for i := 250; i < 280; i++ {
		pods = append(pods, pod(i))
	}
	f.setPods(t, pods...)
	f.client.ClearActions()
	f.sync(t)
	if w := f.writes(); fmt.Sprint(w) != "[update]" {
		t.Errorf("writes %v, want one update", w)
	}
	sizes = nil
	total := 0
	for _, s := range f.slices(t) {
		sizes = append(sizes, len(s.Endpoints))
		total += len(s.Endpoints)
	}
	if fmt.Sprint(sizes) != "[100 100 80]" || total != 280 {
		t.Errorf("slice sizes %v", sizes)
	}

	// Every pod gone: one empty placeholder slice remains.
	f.setPods(t)
	f.sync(t)
	ss := f.slices(t)
	if len(ss) != 1 || len(ss[0].Endpoints) != 0 || len(ss[0].Ports) != 0 {
		t.Fatalf("after removing all pods: %+v", ss)
	}
	f.client.ClearActions()
	f.sync(t)
	if w := f.writes(); len(w) != 0 {
		t.Errorf("placeholder rewritten: %v", w)
	}
}

func TestNamedPortsSplitSlices(t *testing.T) {
	svc := service()
	svc.Spec.Ports[0].TargetPort = intstr.FromString("web")
	f := newFixture(t, svc, node("n1", "z1"),
		pod(1, namedPort("web", 8080)), pod(2, namedPort("web", 9090)), pod(3, namedPort("web", 8080)))
	f.sync(t)
	ss := f.slices(t)
	if len(ss) != 2 {
		t.Fatalf("%d slices, want 2", len(ss))
	}
	got := map[int32]int{}
	for _, s := range ss {
		got[*s.Ports[0].Port] = len(s.Endpoints)
	}
	if got[8080] != 2 || got[9090] != 1 {
		t.Errorf("endpoints per port %v", got)
	}
}

func TestStaleCacheWaits(t *testing.T) {
	f := newFixture(t, service(), pod(1), node("n1", "z1"))
	if err := f.c.sync(context.Background(), ns+"/web"); err != nil {
		t.Fatal(err)
	}
	// The cache has not seen the created slice: a second sync must not
	// create another.
	if err := f.c.sync(context.Background(), ns+"/web"); !errors.Is(err, errStaleCache) {
		t.Fatalf("sync over a stale cache: %v", err)
	}
	f.refresh(t)
	f.sync(t)
	if n := len(f.slices(t)); n != 1 {
		t.Errorf("%d slices", n)
	}
}

func TestMissingNodeSkipsPod(t *testing.T) {
	f := newFixture(t, service(), pod(1), pod(2, onNode("gone")), node("n1", "z1"))
	err := f.c.sync(context.Background(), ns+"/web")
	if !errors.Is(err, errNodeNotFound) {
		t.Fatalf("sync: %v", err)
	}
	select {
	case ev := <-f.rec.Events:
		if !strings.HasPrefix(ev, "Warning FailedToUpdateEndpointSlices Error updating Endpoint Slices for Service ns/web: ") {
			t.Errorf("event %q", ev)
		}
	default:
		t.Error("no event")
	}
	f.refresh(t)
	ss := f.slices(t)
	if len(ss) != 1 || len(ss[0].Endpoints) != 1 || ss[0].Endpoints[0].TargetRef.Name != "pod001" {
		t.Errorf("slices %+v", ss)
	}
}

func TestServiceDeletionAndSelectorless(t *testing.T) {
	f := newFixture(t, service(), pod(1), node("n1", "z1"))
	f.sync(t)
	if err := f.factory.Core().V1().Services().Informer().GetIndexer().Delete(service()); err != nil {
		t.Fatal(err)
	}
	f.sync(t)
	if n := len(f.slices(t)); n != 0 {
		t.Errorf("%d slices left after the service went", n)
	}

	selectorless := service()
	selectorless.Spec.Selector = nil
	f = newFixture(t, selectorless, pod(1), node("n1", "z1"))
	f.sync(t)
	if w := f.writes(); len(w) != 0 {
		t.Errorf("writes %v for a service without selector", w)
	}
}

func TestIPv6Service(t *testing.T) {
	svc := service()
	svc.Spec.ClusterIP = "fd00::20"
	svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
	p := pod(1)
	p.Status.PodIPs = append(p.Status.PodIPs, corev1.PodIP{IP: "fd00:42::2"})
	f := newFixture(t, svc, p, node("n1", "z1"))
	f.sync(t)
	ss := f.slices(t)
	if len(ss) != 1 || ss[0].AddressType != discoveryv1.AddressTypeIPv6 || fmt.Sprint(ss[0].Endpoints[0].Addresses) != "[fd00:42::2]" {
		t.Errorf("slices %+v", ss)
	}
}
