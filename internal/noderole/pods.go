package noderole

import (
	"errors"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/agent/endpoint"
	"mini.dev/mini/internal/agent/volume"
	"mini.dev/mini/internal/runtime"
)

// podVolumes gives the agent the volume manager with the cluster's DNS
// settings bound.
type podVolumes struct {
	*volume.Manager
	dns volume.DNS
}

func (v podVolumes) EtcFiles(pod *corev1.Pod, podIPs []string) ([]runtime.Mount, error) {
	return v.Manager.EtcFiles(pod, podIPs, v.dns)
}

// podsRef lets the endpoint, which starts before the agent exists,
// answer from the agent once it does.
type podsRef struct{ p atomic.Pointer[endpoint.Pods] }

func (r *podsRef) set(p endpoint.Pods) { r.p.Store(&p) }

func (r *podsRef) get() (endpoint.Pods, error) {
	p := r.p.Load()
	if p == nil {
		return nil, errors.New("the node agent is starting")
	}
	return *p, nil
}

func (r *podsRef) Container(namespace, pod, container string, previous bool) (endpoint.ContainerRef, error) {
	p, err := r.get()
	if err != nil {
		return endpoint.ContainerRef{}, err
	}
	return p.Container(namespace, pod, container, previous)
}

func (r *podsRef) Sandbox(namespace, pod string) (string, error) {
	p, err := r.get()
	if err != nil {
		return "", err
	}
	return p.Sandbox(namespace, pod)
}
