package nodeports

import (
	"context"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/scheduler/framework"
)

// Name is the plugin's upstream name.
const Name = "NodePorts"

// ErrReason is upstream's reason.
const ErrReason = "node(s) didn't have free ports for the requested pod ports"

const stateKey = "PreFilter" + Name

// NodePorts is the plugin.
type NodePorts struct{}

// Name returns the plugin name.
func (NodePorts) Name() string { return Name }

// PreFilter collects the pod's host ports once; pods without any skip
// the filter.
func (NodePorts) PreFilter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, _ []*framework.NodeInfo) *framework.Status {
	ports := wantPorts(pod)
	if len(ports) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(stateKey, ports)
	return nil
}

// Filter rejects nodes where a wanted port is taken.
func (NodePorts) Filter(_ context.Context, state *framework.CycleState, pod *corev1.Pod, node *framework.NodeInfo) *framework.Status {
	v, ok := state.Read(stateKey)
	var ports []framework.HostPort
	if ok {
		ports = v.([]framework.HostPort)
	} else {
		ports = wantPorts(pod)
	}
	if Fits(ports, node.UsedPorts) {
		return nil
	}
	return framework.NewStatus(framework.Unschedulable, ErrReason)
}

// Fits reports whether none of want conflicts with used.
func Fits(want, used []framework.HostPort) bool {
	for _, w := range want {
		for _, u := range used {
			if w.Port == u.Port && w.Protocol == u.Protocol &&
				(w.IP == u.IP || w.IP == "0.0.0.0" || u.IP == "0.0.0.0") {
				return false
			}
		}
	}
	return true
}

func wantPorts(pod *corev1.Pod) []framework.HostPort {
	var out []framework.HostPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			ip := p.HostIP
			if ip == "" {
				ip = "0.0.0.0"
			}
			proto := p.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			out = append(out, framework.HostPort{IP: ip, Protocol: proto, Port: p.HostPort})
		}
	}
	return out
}
