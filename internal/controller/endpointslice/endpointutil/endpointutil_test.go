package endpointutil

import (
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

func testPod(mod func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", ResourceVersion: "1", Labels: map[string]string{"app": "a"}},
		Status: corev1.PodStatus{PodIP: "10.42.0.2", PodIPs: []corev1.PodIP{{IP: "10.42.0.2"}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
	}
	if mod != nil {
		mod(p)
	}
	return p
}

func TestServicesToUpdateOnPodChange(t *testing.T) {
	svc := func(name string, sel map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.ServiceSpec{Selector: sel}}
	}
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	idx := factory.Core().V1().Services().Informer().GetIndexer()
	for _, s := range []*corev1.Service{svc("sa", map[string]string{"app": "a"}), svc("sb", map[string]string{"app": "b"}),
		svc("all", map[string]string{}), svc("none", nil)} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	lister := factory.Core().V1().Services().Lister()
	bump := func(p *corev1.Pod) { p.ResourceVersion = "2" }
	tests := []struct {
		name string
		mod  func(*corev1.Pod)
		want []string
	}{
		{"resync", nil, nil},
		{"annotation only", func(p *corev1.Pod) { bump(p); p.Annotations = map[string]string{"x": "y"} }, nil},
		{"readiness", func(p *corev1.Pod) { bump(p); p.Status.Conditions[0].Status = corev1.ConditionFalse }, []string{"ns/all", "ns/sa"}},
		{"deletion", func(p *corev1.Pod) { bump(p); now := metav1.Now(); p.DeletionTimestamp = &now }, []string{"ns/all", "ns/sa"}},
		{"new IP", func(p *corev1.Pod) { bump(p); p.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.3"}} }, []string{"ns/all", "ns/sa"}},
		{"hostname", func(p *corev1.Pod) { bump(p); p.Spec.Hostname = "h" }, []string{"ns/all", "ns/sa"}},
		{"labels move the pod", func(p *corev1.Pod) { bump(p); p.Labels = map[string]string{"app": "b"} }, []string{"ns/sa", "ns/sb"}},
		{"labels and readiness", func(p *corev1.Pod) {
			bump(p)
			p.Labels = map[string]string{"app": "b"}
			p.Status.Conditions[0].Status = corev1.ConditionFalse
		}, []string{"ns/all", "ns/sa", "ns/sb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ServicesToUpdateOnPodChange(lister, testPod(nil), testPod(tt.mod))
			if err != nil {
				t.Fatal(err)
			}
			list := got.UnsortedList()
			if len(list) != len(tt.want) || !got.HasAll(tt.want...) {
				t.Errorf("services %v, want %v", list, tt.want)
			}
		})
	}
}

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := testPod(func(p *corev1.Pod) {
		p.Spec.Containers = []corev1.Container{{Ports: []corev1.ContainerPort{
			{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
			{Name: "dns", ContainerPort: 5353, Protocol: corev1.ProtocolUDP}}}}
		p.Spec.InitContainers = []corev1.Container{
			{Ports: []corev1.ContainerPort{{Name: "init", ContainerPort: 1, Protocol: corev1.ProtocolTCP}}},
			{RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "side", ContainerPort: 9000, Protocol: corev1.ProtocolTCP}}}}
	})
	tests := []struct {
		target   intstr.IntOrString
		protocol corev1.Protocol
		want     int32
		wantErr  bool
	}{
		{intstr.FromInt32(81), corev1.ProtocolTCP, 81, false},
		{intstr.FromString("http"), corev1.ProtocolTCP, 8080, false},
		{intstr.FromString("dns"), corev1.ProtocolUDP, 5353, false},
		{intstr.FromString("dns"), corev1.ProtocolTCP, 0, true},
		{intstr.FromString("side"), corev1.ProtocolTCP, 9000, false},
		{intstr.FromString("init"), corev1.ProtocolTCP, 0, true},
		{intstr.FromString("nope"), corev1.ProtocolTCP, 0, true},
	}
	for _, tt := range tests {
		got, err := FindPort(pod, &corev1.ServicePort{Port: 80, TargetPort: tt.target, Protocol: tt.protocol})
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("FindPort(%v/%s) = %d, %v; want %d", tt.target.String(), tt.protocol, got, err, tt.want)
		}
	}
}

func TestTriggerTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s", CreationTimestamp: metav1.NewTime(t0)}}
	readyAt := func(name string, at time.Time) *corev1.Pod {
		return testPod(func(p *corev1.Pod) {
			p.Name = name
			p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(at)
		})
	}
	tr := NewTriggerTimeTracker()
	a := readyAt("a", t0.Add(time.Minute))
	if got := tr.ComputeEndpointLastChangeTriggerTime("ns", svc, []*corev1.Pod{a}); !got.Equal(t0) {
		t.Errorf("first sync: %v, want the service's creation", got)
	}
	if got := tr.ComputeEndpointLastChangeTriggerTime("ns", svc, []*corev1.Pod{a}); !got.IsZero() {
		t.Errorf("nothing changed: %v", got)
	}
	b, c := readyAt("b", t0.Add(3*time.Minute)), readyAt("c", t0.Add(2*time.Minute))
	if got := tr.ComputeEndpointLastChangeTriggerTime("ns", svc, []*corev1.Pod{a, b, c}); !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("two pods changed: %v, want the earlier", got)
	}
	tr.DeleteService("ns", "s")
	if got := tr.ComputeEndpointLastChangeTriggerTime("ns", svc, []*corev1.Pod{a}); !got.Equal(t0) {
		t.Errorf("after deletion: %v", got)
	}
}

func TestPodHandler(t *testing.T) {
	factory := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	idx := factory.Core().V1().Services().Informer().GetIndexer()
	for name, sel := range map[string]map[string]string{"sa": {"app": "a"}, "sb": {"app": "b"}} {
		if err := idx.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.ServiceSpec{Selector: sel}}); err != nil {
			t.Fatal(err)
		}
	}
	moved := testPod(func(p *corev1.Pod) { p.ResourceVersion = "2"; p.Labels = map[string]string{"app": "b"} })
	tests := []struct {
		name  string
		event func(h cache.ResourceEventHandlerFuncs)
		want  []string
	}{
		{"add", func(h cache.ResourceEventHandlerFuncs) { h.OnAdd(testPod(nil), false) }, []string{"ns/sa"}},
		{"resync", func(h cache.ResourceEventHandlerFuncs) { h.OnUpdate(testPod(nil), testPod(nil)) }, nil},
		{"labels move the pod", func(h cache.ResourceEventHandlerFuncs) { h.OnUpdate(testPod(nil), moved) }, []string{"ns/sa", "ns/sb"}},
		{"delete", func(h cache.ResourceEventHandlerFuncs) { h.OnDelete(testPod(nil)) }, []string{"ns/sa"}},
		{"tombstone", func(h cache.ResourceEventHandlerFuncs) {
			h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/p", Obj: moved})
		}, []string{"ns/sb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := workqueue.NewTyped[string]()
			defer q.ShutDown()
			tt.event(PodHandler(factory.Core().V1().Services().Lister(), q, slog.New(slog.DiscardHandler)))
			got := sets.New[string]()
			for q.Len() > 0 {
				key, _ := q.Get()
				got.Insert(key)
				q.Done(key)
			}
			if got.Len() != len(tt.want) || !got.HasAll(tt.want...) {
				t.Errorf("queued %v, want %v", sets.List(got), tt.want)
			}
		})
	}
}
