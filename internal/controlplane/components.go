package controlplane

import (
	"fmt"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/record"

	"mini.dev/mini/internal/controller/namespace"
)

// component is one named runnable.
type component struct {
	name string
	r    runnable
}

// buildEnv is what components are built from.
type buildEnv struct {
	cfg       Config
	clients   *clients
	informers informers.SharedInformerFactory
	recorder  func(component string) record.EventRecorder
}

// controllers builds every controller, in upstream's names.
func (e *buildEnv) controllers() ([]component, error) {
	var out []component
	add := func(name string, r runnable, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, component{name, r})
		return nil
	}
	c := e.clients
	ns, err := namespace.New(namespace.Config{Client: c.kube, Dynamic: c.dynamic, Logger: e.cfg.Logger})
	if err := add("namespace-controller", ns, err); err != nil {
		return nil, err
	}
	return out, nil
}

// scheduler builds the scheduler on its own informers (it acts as
// system:kube-scheduler).
func (e *buildEnv) scheduler(inf informers.SharedInformerFactory, rec record.EventRecorder) ([]component, error) {
	return nil, nil
}
