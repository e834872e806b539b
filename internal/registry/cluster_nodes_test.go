package registry

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name string, mutate ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: testMeta(name, "")}
	for _, m := range mutate {
		m(n)
	}
	return n
}

func TestNodeValidation(t *testing.T) {
	taint := func(key string, effect corev1.TaintEffect) corev1.Taint {
		return corev1.Taint{Key: key, Effect: effect}
	}
	runValidation(t, Nodes(), []validationCase{
		{name: "valid", obj: testNode("node-1.example.com", func(n *corev1.Node) {
			n.Spec.PodCIDRs = []string{"10.42.0.0/24"}
			n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourcePods: resource.MustParse("110")}
		})},
		{name: "bad name", obj: testNode("Node_1"), want: []string{"FieldValueInvalid metadata.name"}},
		{name: "taints: bad effect and duplicates, at upstream's path", obj: testNode("n", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{taint("a", "Sometimes"), taint("b", corev1.TaintEffectNoSchedule), taint("b", corev1.TaintEffectNoSchedule), {Key: "c"}}
		}), want: []string{"FieldValueNotSupported metadata.taints[0].effect", "FieldValueDuplicate metadata.taints[2]", "FieldValueRequired metadata.taints[3].effect"}},
		{name: "negative and fractional capacity", obj: testNode("n", func(n *corev1.Node) {
			n.Status.Capacity = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("1500m")}
		}), want: []string{"FieldValueInvalid status.capacity.pods", "FieldValueInvalid status.allocatable.pods"}},
		{name: "two IPv4 pod CIDRs", obj: testNode("n", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.0.0/24", "10.42.1.0/24"} }),
			want: []string{"FieldValueInvalid spec.podCIDRs"}},
		{name: "pod CIDR changed", obj: testNode("n", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.1.0/24"} }),
			old:  testNode("n", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.0.0/24"} }),
			want: []string{"FieldValueForbidden spec.podCIDRs"}},
		{name: "pod CIDR set once", obj: testNode("n", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.42.1.0/24"} }), old: testNode("n")},
	})
}

func TestNodeStatusAndTable(t *testing.T) {
	r := Nodes()
	created := metav1.Now()
	n := testNode("node-1", func(n *corev1.Node) {
		n.CreationTimestamp = created
		n.Labels = map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "", "kubernetes.io/role": "edge"}
		n.Spec.Unschedulable = true
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "node-1"}, {Type: corev1.NodeInternalIP, Address: "192.168.1.10"}}
		n.Status.NodeInfo = corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-mini", OSImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0"}
		n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4")}
	})
	r.Default(n)
	if _, ok := n.Status.Allocatable[corev1.ResourceCPU]; !ok {
		t.Errorf("allocatable not defaulted from capacity: %v", n.Status.Allocatable)
	}
	want := []any{"node-1", "Ready,SchedulingDisabled", "control-plane,edge,master", "0s", "v1.37.2-mini",
		"192.168.1.10", "<none>", "Debian GNU/Linux 13", "6.12.0", "<unknown>"}
	if got := r.Cells(n); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v\nwant %#v", got, want)
	}
	if f := r.Fields(n); f["spec.unschedulable"] != "true" {
		t.Errorf("fields %v", f)
	}
	notReady := testNode("n", func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
	})
	if got := nodeStatusString(notReady); got != "NotReady" {
		t.Errorf("status %q", got)
	}
	if got := nodeStatusString(testNode("n")); got != "Unknown" {
		t.Errorf("status %q", got)
	}

	// The main resource keeps the status, /status keeps the spec.
	upd := n.DeepCopy()
	upd.Spec.Unschedulable = false
	upd.Status.Conditions = nil
	r.PrepareForUpdate(upd, n, "")
	if upd.Spec.Unschedulable || len(upd.Status.Conditions) != 1 {
		t.Errorf("main update: %+v", upd)
	}
	upd = n.DeepCopy()
	upd.Spec.Unschedulable = false
	upd.Status.Conditions = nil
	r.PrepareForUpdate(upd, n, "status")
	if !upd.Spec.Unschedulable || len(upd.Status.Conditions) != 0 {
		t.Errorf("status update: %+v", upd)
	}
}
