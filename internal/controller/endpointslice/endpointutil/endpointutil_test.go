package endpointutil

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
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
