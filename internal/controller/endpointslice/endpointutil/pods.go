package endpointutil

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ShouldPodBeInEndpoints reports whether pod may appear in a service's
// endpoints at all: it has an IP, is not terminal (Succeeded/Failed), and
// is not being deleted unless includeTerminating (upstream passes
// publishNotReadyAddresses for Endpoints and true for EndpointSlices,
// which mark such pods terminating instead).
func ShouldPodBeInEndpoints(pod *corev1.Pod, includeTerminating bool) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.Status.PodIP == "" && len(pod.Status.PodIPs) == 0 {
		return false
	}
	if !includeTerminating && pod.DeletionTimestamp != nil {
		return false
	}
	return true
}

// IsPodReady reports the pod's Ready condition.
func IsPodReady(pod *corev1.Pod) bool {
	c := PodReadyCondition(pod)
	return c != nil && c.Status == corev1.ConditionTrue
}

// PodReadyCondition returns the pod's Ready condition, or nil.
func PodReadyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// PodIPs returns the pod's IPs, primary first. The API keeps podIP and
// podIPs in step; a pod written with podIP only still has its address.
func PodIPs(pod *corev1.Pod) []string {
	if len(pod.Status.PodIPs) == 0 {
		if pod.Status.PodIP == "" {
			return nil
		}
		return []string{pod.Status.PodIP}
	}
	ips := make([]string, 0, len(pod.Status.PodIPs))
	for _, ip := range pod.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	return ips
}

// FindPort resolves a service port's targetPort on pod: a number is taken
// as is; a name is looked up among the ports (of the same protocol) of the
// pod's containers and of its sidecars (init containers that restart
// always), so that pods of one service may serve a named port on
// different numbers.
func FindPort(pod *corev1.Pod, sp *corev1.ServicePort) (int32, error) {
	target := sp.TargetPort
	if target.Type == intstr.Int {
		if target.IntVal == 0 {
			// The API defaults targetPort to port; an object built by
			// hand may not have it.
			return sp.Port, nil
		}
		return target.IntVal, nil
	}
	name := target.StrVal
	protocol := sp.Protocol
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	match := func(c *corev1.Container) (int32, bool) {
		for _, p := range c.Ports {
			pp := p.Protocol
			if pp == "" {
				pp = corev1.ProtocolTCP
			}
			if p.Name == name && pp == protocol {
				return p.ContainerPort, true
			}
		}
		return 0, false
	}
	for i := range pod.Spec.Containers {
		if port, ok := match(&pod.Spec.Containers[i]); ok {
			return port, nil
		}
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if c.RestartPolicy == nil || *c.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			continue
		}
		if port, ok := match(c); ok {
			return port, nil
		}
	}
	return 0, fmt.Errorf("no suitable port for manifest: %s", pod.UID)
}

// ShouldSetHostname reports whether the pod's endpoint carries its
// hostname: the pod names one and puts itself in the service's subdomain
// (how a headless service gives pods stable DNS names).
func ShouldSetHostname(pod *corev1.Pod, svc *corev1.Service) bool {
	return pod.Spec.Hostname != "" && pod.Spec.Subdomain == svc.Name && svc.Namespace == pod.Namespace
}

// IsServiceIPSet reports whether the service has a cluster IP (is not
// headless).
func IsServiceIPSet(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP != corev1.ClusterIPNone && svc.Spec.ClusterIP != ""
}
