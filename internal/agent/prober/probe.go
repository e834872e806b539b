package prober

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// errNoPodIP says the probe needs the pod's IP and the pod has none yet;
// the probe is skipped quietly until a later Sync brings the IP.
var errNoPodIP = errors.New("pod has no IP yet")

// probe runs one probe of a container, retrying errors, and records
// kubelet's event for a failure, a warning or an error. ok is false
// when there is no result to count (an error, or no pod IP yet).
func (m *Manager) probe(ctx context.Context, kind probeType, pod *corev1.Pod, c *corev1.Container, containerID string, spec *corev1.Probe) (res result, ok bool) {
	var output string
	var err error
	for i := 0; i < maxProbeRetries; i++ {
		res, output, err = m.runProbe(ctx, spec, pod, c, containerID)
		if err == nil || errors.Is(err, errNoPodIP) || ctx.Err() != nil {
			break
		}
	}
	if errors.Is(err, errNoPodIP) || ctx.Err() != nil {
		return unknown, false
	}
	ref := containerRef(pod, c)
	switch {
	case err != nil:
		m.log.Debug("probe errored", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "probe", kind.String(), "err", err)
		m.rec.Eventf(ref, corev1.EventTypeWarning, reasonUnhealthy, "%s probe errored and resulted in %s state: %s", kind, res, err)
		return unknown, false
	case res == failure:
		m.log.Debug("probe failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "probe", kind.String(), "output", output)
		m.rec.Eventf(ref, corev1.EventTypeWarning, reasonUnhealthy, "%s probe failed: %s", kind, output)
	case res == warning:
		m.rec.Eventf(ref, corev1.EventTypeWarning, reasonProbeWarning, "%s probe warning: %s", kind, output)
	}
	return res, true
}

// runProbe runs the probe's handler once; an error means the probe
// could not be run at all (rather than failed).
func (m *Manager) runProbe(ctx context.Context, p *corev1.Probe, pod *corev1.Pod, c *corev1.Container, containerID string) (result, string, error) {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	switch {
	case p.Exec != nil:
		return m.execProbe(ctx, containerID, expandCommand(p.Exec.Command, c.Env), timeout)
	case p.HTTPGet != nil:
		req, err := newHTTPGetRequest(ctx, p.HTTPGet, c, podIP(pod), "probe")
		if err != nil {
			return unknown, "", err
		}
		return m.httpProbe(req, timeout)
	case p.TCPSocket != nil:
		port, err := resolvePort(p.TCPSocket.Port, c)
		if err != nil {
			return unknown, "", err
		}
		host := p.TCPSocket.Host
		if host == "" {
			if host = podIP(pod); host == "" {
				return unknown, "", errNoPodIP
			}
		}
		return tcpProbe(ctx, host, port, timeout)
	case p.GRPC != nil:
		host := podIP(pod)
		if host == "" {
			return unknown, "", errNoPodIP
		}
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		return grpcProbe(ctx, host, service, int(p.GRPC.Port), timeout)
	}
	return unknown, "", fmt.Errorf("missing probe handler for %s:%s", pod.Namespace+"/"+pod.Name, c.Name)
}

// podIP is the address probes and hooks reach the pod on: its IP, or
// for a host-network pod whose IP is not reported yet, the host's.
func podIP(pod *corev1.Pod) string {
	if pod.Status.PodIP == "" && pod.Spec.HostNetwork {
		return pod.Status.HostIP
	}
	return pod.Status.PodIP
}

// containerRef is the object kubelet's container events are about.
func containerRef(pod *corev1.Pod, c *corev1.Container) *corev1.ObjectReference {
	path := fmt.Sprintf("spec.containers{%s}", c.Name)
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == c.Name {
			path = fmt.Sprintf("spec.initContainers{%s}", c.Name)
		}
	}
	return &corev1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: path,
	}
}
