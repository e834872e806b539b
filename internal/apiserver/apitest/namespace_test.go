package apitest

import (
	"context"
	"testing"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"mini.dev/mini/internal/controller/namespace"
	"mini.dev/mini/internal/store"
)

// TestNamespaceDeletion: with the namespace controller running, `kubectl
// delete namespace` returns once everything in it is gone, as upstream.
func TestNamespaceDeletion(t *testing.T) {
	ts := startServer(t, store.Config{})
	cfg := ts.restConfig(ts.kubeconfig)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := namespace.New(namespace.Config{Client: client, Dynamic: dyn})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctrl.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	ts.kubectl("create", "namespace", "team-a")
	ts.kubectl("create", "configmap", "settings", "-n", "team-a", "--from-literal=a=b")
	ts.kubectl("create", "deployment", "web", "-n", "team-a", "--image=nginx")
	ts.kubectl("create", "secret", "generic", "pw", "-n", "team-a", "--from-literal=p=q")
	// A configmap held by a finalizer is deleted only once it is released.
	ts.kubectl("create", "configmap", "held", "-n", "team-a")
	ts.kubectl("patch", "configmap", "held", "-n", "team-a", "--type=merge", "-p", `{"metadata":{"finalizers":["example.com/hold"]}}`)
	go func() {
		// Release it once the namespace is terminating.
		for ctx.Err() == nil {
			out, _, _ := ts.kubectlAs(ts.kubeconfig, "", "get", "namespace", "team-a", "-o", "jsonpath={.status.phase}")
			if out == "Terminating" {
				ts.kubectlAs(ts.kubeconfig, "", "patch", "configmap", "held", "-n", "team-a", "--type=merge", "-p", `{"metadata":{"finalizers":null}}`)
				return
			}
		}
	}()
	mustContain(t, ts.kubectl("delete", "namespace", "team-a", "--timeout=60s"), `namespace "team-a" deleted`)
	mustContain(t, ts.kubectlFails("get", "namespace", "team-a"), `namespaces "team-a" not found`)
	mustContain(t, ts.kubectl("get", "configmaps,deployments,secrets", "-n", "team-a", "-o", "name"), `^$`)
	// The name can be used again.
	ts.kubectl("create", "namespace", "team-a")
}
