package simnodes

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/fake"
	testingclock "k8s.io/utils/clock/testing"
)

func TestNodesRegisterAndRunPods(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	client := fake.NewSimpleClientset()
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(Config{Client: client, Count: 3, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("sim nodes not ready")
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 3 {
		t.Fatalf("%d nodes", len(nodes.Items))
	}
	ips := map[string]bool{}
	for _, n := range nodes.Items {
		if n.Labels["type"] != "sim" || n.Labels["kubernetes.io/hostname"] != n.Name {
			t.Errorf("%s labels %v", n.Name, n.Labels)
		}
		if q := n.Status.Capacity[corev1.ResourceMemory]; q.String() != "32Gi" {
			t.Errorf("%s memory %s", n.Name, q.String())
		}
		ips[n.Status.Addresses[0].Address] = true
	}
	if len(ips) != 3 {
		t.Errorf("node IPs not distinct: %v", ips)
	}
	if err := s.Pause("sim-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Resume("sim-0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause("nope"); err == nil {
		t.Error("pausing an unknown node succeeded")
	}

	// A pod bound to sim-1 runs there once the node has its pod CIDR.
	node, _ := client.CoreV1().Nodes().Get(ctx, "sim-1", metav1.GetOptions{})
	node.Spec.PodCIDR = "10.42.1.0/24"
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-p"},
		Spec: corev1.PodSpec{NodeName: "sim-1", RestartPolicy: corev1.RestartPolicyAlways,
			Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
		return err == nil && p.Status.Phase == corev1.PodRunning && p.Status.PodIP == "10.42.1.2", nil
	})
	if err != nil {
		t.Fatalf("pod on sim-1: %v", err)
	}
}
