package nodeports

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
	"mini.dev/mini/internal/scheduler/internal/testutil"
)

func withPort(p *corev1.Pod, ip string, proto corev1.Protocol, port int32) *corev1.Pod {
	p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{ContainerPort: 80, HostIP: ip, Protocol: proto, HostPort: port})
	return p
}

func TestFilter(t *testing.T) {
	tests := []struct {
		name      string
		existing  *corev1.Pod
		pod       *corev1.Pod
		fits      bool
		skipFirst bool
	}{
		{"no ports skips", nil, testutil.Pod("p", nil), true, true},
		{"free port", withPort(testutil.Pod("e", nil), "", "", 8080), withPort(testutil.Pod("p", nil), "", "", 8081), true, false},
		{"same port", withPort(testutil.Pod("e", nil), "", "", 8080), withPort(testutil.Pod("p", nil), "", "", 8080), false, false},
		{"other protocol", withPort(testutil.Pod("e", nil), "", corev1.ProtocolUDP, 53), withPort(testutil.Pod("p", nil), "", corev1.ProtocolTCP, 53), true, false},
		{"different IPs", withPort(testutil.Pod("e", nil), "10.0.0.1", "", 80), withPort(testutil.Pod("p", nil), "10.0.0.2", "", 80), true, false},
		{"wildcard conflicts with IP", withPort(testutil.Pod("e", nil), "10.0.0.1", "", 80), withPort(testutil.Pod("p", nil), "0.0.0.0", "", 80), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ni := framework.NewNodeInfo(testutil.Node("n", nil))
			if tt.existing != nil {
				ni.AddPod(testutil.On(tt.existing, "n"))
			}
			state := framework.NewCycleState()
			st := NodePorts{}.PreFilter(context.Background(), state, tt.pod, nil)
			if st.IsSkip() != tt.skipFirst {
				t.Fatalf("PreFilter skip = %v", st.IsSkip())
			}
			if tt.skipFirst {
				return
			}
			st = NodePorts{}.Filter(context.Background(), state, tt.pod, ni)
			if st.IsSuccess() != tt.fits {
				t.Fatalf("fits = %v, want %v", st.IsSuccess(), tt.fits)
			}
			if !tt.fits && (st.Message() != ErrReason || st.Code != framework.Unschedulable) {
				t.Fatalf("got %+v", st)
			}
		})
	}
}
