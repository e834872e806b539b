package controlplane

import (
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"mini.dev/mini/internal/controller/cronjob"
	"mini.dev/mini/internal/controller/daemonset"
	"mini.dev/mini/internal/controller/deployment"
	"mini.dev/mini/internal/controller/disruption"
	"mini.dev/mini/internal/controller/endpoints"
	"mini.dev/mini/internal/controller/endpointslice"
	"mini.dev/mini/internal/controller/garbagecollector"
	"mini.dev/mini/internal/controller/job"
	"mini.dev/mini/internal/controller/namespace"
	"mini.dev/mini/internal/controller/nodeipam"
	"mini.dev/mini/internal/controller/nodelifecycle"
	"mini.dev/mini/internal/controller/nodelifecycle/tainteviction"
	"mini.dev/mini/internal/controller/podgc"
	"mini.dev/mini/internal/controller/replicaset"
	"mini.dev/mini/internal/controller/resourcequota"
	"mini.dev/mini/internal/controller/rootcacert"
	"mini.dev/mini/internal/controller/serviceaccount"
	"mini.dev/mini/internal/controller/servicelb"
	"mini.dev/mini/internal/controller/statefulset"
	"mini.dev/mini/internal/controller/ttlafterfinished"
	"mini.dev/mini/internal/scheduler"
)

// component is one named runnable.
type component struct {
	name string
	r    runnable
}

// buildEnv is what components are built from.
type buildEnv struct {
	cfg       Config
	half      *half
	dynamic   dynamic.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
}

// controllers builds every controller, named as upstream's
// kube-controller-manager names them (and their events' source).
func (e *buildEnv) controllers() ([]component, error) {
	var out []component
	add := func(name string, r runnable, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, component{name, r})
		return nil
	}
	h, cfg, log, clk := e.half, e.cfg, e.cfg.Logger, e.cfg.Clock
	type build func() (runnable, error)
	for _, c := range []struct {
		name  string
		build build
	}{
		{"namespace-controller", func() (runnable, error) {
			return namespace.New(namespace.Config{Client: h.client, Dynamic: e.dynamic, Logger: log})
		}},
		{"node-ipam-controller", func() (runnable, error) {
			return nodeipam.New(nodeipam.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("cidrAllocator"),
				Logger: log, ClusterCIDR: cfg.ClusterCIDR})
		}},
		{"node-lifecycle-controller", func() (runnable, error) {
			return nodelifecycle.New(nodelifecycle.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("node-controller"),
				Logger: log, Clock: clk, GracePeriod: cfg.Timing.NodeMonitorGracePeriod})
		}},
		{"taint-eviction-controller", func() (runnable, error) {
			return tainteviction.New(tainteviction.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("taint-eviction-controller"),
				Logger: log, Clock: clk})
		}},
		{"replicaset-controller", func() (runnable, error) {
			return replicaset.New(replicaset.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("replicaset-controller"),
				Logger: log, Clock: clk})
		}},
		{"deployment-controller", func() (runnable, error) {
			return deployment.New(deployment.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("deployment-controller"),
				Logger: log, Clock: clk})
		}},
		{"daemonset-controller", func() (runnable, error) {
			return daemonset.New(daemonset.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("daemonset-controller"),
				Logger: log, Clock: clk})
		}},
		{"statefulset-controller", func() (runnable, error) {
			return statefulset.New(statefulset.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("statefulset-controller"),
				Logger: log, Clock: clk})
		}},
		{"job-controller", func() (runnable, error) {
			return job.New(job.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("job-controller"), Logger: log, Clock: clk})
		}},
		{"cronjob-controller", func() (runnable, error) {
			return cronjob.New(cronjob.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("cronjob-controller"), Logger: log, Clock: clk})
		}},
		{"ttl-after-finished-controller", func() (runnable, error) {
			return ttlafterfinished.New(ttlafterfinished.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("ttl-after-finished-controller"), Logger: log, Clock: clk})
		}},
		{"endpoints-controller", func() (runnable, error) {
			return endpoints.New(endpoints.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("endpoint-controller"), Logger: log, Clock: clk})
		}},
		{"endpointslice-controller", func() (runnable, error) {
			return endpointslice.New(endpointslice.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("endpoint-slice-controller"), Logger: log, Clock: clk})
		}},
		{"service-lb-controller", func() (runnable, error) {
			return servicelb.New(servicelb.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("service-lb-controller"), Logger: log, Clock: clk, Pool: cfg.LBPool})
		}},
		{"serviceaccount-controller", func() (runnable, error) {
			return serviceaccount.New(serviceaccount.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("service-account-controller"), Logger: log, Clock: clk})
		}},
		{"root-ca-certificate-publisher-controller", func() (runnable, error) {
			return rootcacert.New(rootcacert.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("root-ca-cert-publisher"), Logger: log, Clock: clk, RootCA: cfg.RootCA})
		}},
		{"disruption-controller", func() (runnable, error) {
			return disruption.New(disruption.Config{Client: h.client, Informers: h.informers, Recorder: h.recorder("controllermanager"),
				Logger: log, Clock: clk})
		}},
		{"resourcequota-controller", func() (runnable, error) {
			return resourcequota.New(resourcequota.Config{Client: h.client, Informers: h.informers,
				Recorder: h.recorder("resource-quota-controller"), Logger: log, Clock: clk})
		}},
		{"pod-garbage-collector-controller", func() (runnable, error) {
			return podgc.New(podgc.Config{Client: h.client, Informers: h.informers, Logger: log, Clock: clk})
		}},
		{"garbage-collector-controller", func() (runnable, error) {
			return garbagecollector.New(garbagecollector.Config{Metadata: e.metadata, Discovery: e.discovery,
				Recorder: h.recorder("garbage-collector-controller"), Logger: log})
		}},
	} {
		r, err := c.build()
		if err := add(c.name, r, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scheduler builds the scheduler on its own informers (it acts as
// system:kube-scheduler).
func (e *buildEnv) scheduler() ([]component, error) {
	s, err := scheduler.New(scheduler.Config{Client: e.half.client, Informers: e.half.informers,
		Recorder: e.half.recorder("default-scheduler"), Logger: e.cfg.Logger, Clock: e.cfg.Clock})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return []component{{"scheduler", s}}, nil
}
