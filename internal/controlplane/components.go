package controlplane

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"mini.dev/mini/internal/controller/namespace"
)

// component is one named runnable.
type component struct {
	name string
	r    runnable
}

// buildEnv is what components are built from.
type buildEnv struct {
	cfg      Config
	half     *half
	dynamic  dynamic.Interface
	metadata metadata.Interface
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
	h := e.half
	ns, err := namespace.New(namespace.Config{Client: h.client, Dynamic: e.dynamic, Logger: e.cfg.Logger})
	if err := add("namespace-controller", ns, err); err != nil {
		return nil, err
	}
	return out, nil
}

// scheduler builds the scheduler on its own informers (it acts as
// system:kube-scheduler).
func (e *buildEnv) scheduler() ([]component, error) {
	return nil, nil
}
