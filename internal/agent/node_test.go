package agent

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeRegistered(t *testing.T) {
	h := newHarness(t, false)
	node, err := h.client.CoreV1().Nodes().Get(h.ctx, testNode, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"kubernetes.io/hostname": testNode, "kubernetes.io/os": "linux", "type": "sim"} {
		if node.Labels[k] != v {
			t.Errorf("label %s=%q", k, node.Labels[k])
		}
	}
	want := map[corev1.NodeConditionType][2]string{
		corev1.NodeMemoryPressure: {"False", "KubeletHasSufficientMemory"},
		corev1.NodeDiskPressure:   {"False", "KubeletHasNoDiskPressure"},
		corev1.NodePIDPressure:    {"False", "KubeletHasSufficientPID"},
		corev1.NodeReady:          {"True", "KubeletReady"},
	}
	for _, c := range node.Status.Conditions {
		if w := want[c.Type]; string(c.Status) != w[0] || c.Reason != w[1] {
			t.Errorf("condition %s: %s %s", c.Type, c.Status, c.Reason)
		}
		delete(want, c.Type)
	}
	if len(want) != 0 {
		t.Errorf("missing conditions %v", want)
	}
	if q := node.Status.Capacity[corev1.ResourcePods]; q.Value() != 110 {
		t.Errorf("capacity %v", node.Status.Capacity)
	}
	if node.Status.NodeInfo.ContainerRuntimeVersion != "sim://1" || node.Status.NodeInfo.KubeletVersion == "" {
		t.Errorf("node info %+v", node.Status.NodeInfo)
	}
	if len(node.Status.Addresses) != 2 || node.Status.Addresses[0].Address != testNodeIP ||
		node.Status.Addresses[1].Type != corev1.NodeHostName || node.Status.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("addresses %+v endpoints %+v", node.Status.Addresses, node.Status.DaemonEndpoints)
	}
}

func TestLeaseRenewalAndPause(t *testing.T) {
	h := newHarness(t, false)
	ticks := make(chan struct{}, 10)
	// Set before the first tick can fire: the fake clock has not moved.
	h.agent.hb.afterTick = func() { ticks <- struct{}{} }
	var lease *coordinationv1.Lease
	h.waitFor("lease", func() bool {
		l, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(h.ctx, testNode, metav1.GetOptions{})
		lease = l
		return err == nil
	})
	if *lease.Spec.HolderIdentity != testNode || *lease.Spec.LeaseDurationSeconds != 40 || !lease.Spec.RenewTime.Time.Equal(epoch) {
		t.Fatalf("lease %+v", lease.Spec)
	}
	renewTime := func() time.Time {
		l, err := h.client.CoordinationV1().Leases("kube-node-lease").Get(h.ctx, testNode, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return l.Spec.RenewTime.Time
	}
	tick := func() {
		t.Helper()
		h.step(10 * time.Second)
		select {
		case <-ticks:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat tick")
		}
	}
	tick()
	if got := renewTime(); !got.Equal(epoch.Add(10 * time.Second)) {
		t.Fatalf("renewed at %v", got)
	}
	h.agent.PauseHeartbeat(true)
	tick()
	if got := renewTime(); !got.Equal(epoch.Add(10 * time.Second)) {
		t.Fatalf("paused heartbeat renewed at %v", got)
	}
	h.agent.PauseHeartbeat(false)
	tick()
	if got := renewTime(); !got.Equal(epoch.Add(30 * time.Second)) {
		t.Fatalf("resumed heartbeat renewed at %v", got)
	}
}
