package clustertest

import (
	"testing"
	"time"
)

const nginxDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: nginx
`

// Deleting a namespace deletes everything in it, then the namespace.
func TestNamespaceDeletion(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	c.kubectl("create", "namespace", "shop")
	// Every namespace gets its default account and the root CA bundle.
	c.eventually(30*time.Second, []string{"get", "serviceaccount,configmap", "-n", "shop", "-o", "name"},
		`(?m)^serviceaccount/default$`, `(?m)^configmap/kube-root-ca.crt$`)
	c.run(nginxDeployment, "apply", "-n", "shop", "-f", "-")
	c.kubectl("rollout", "status", "deployment/web", "-n", "shop", "--timeout=60s")
	mustMatch(t, c.kubectl("delete", "namespace", "shop", "--timeout=60s"), `namespace "shop" deleted`)
	mustMatch(t, c.kubectlFails("get", "namespace", "shop"), `namespaces "shop" not found`)
	mustMatch(t, c.kubectl("get", "pods", "-A", "-o", "name"), `^$`)
}

// kubectl delete --cascade in its three modes.
func TestCascadingDeletion(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	for _, tc := range []struct {
		cascade string
		// whether the ReplicaSet and pods outlive the Deployment
		orphaned bool
	}{
		{"background", false},
		{"foreground", false},
		{"orphan", true},
	} {
		t.Run(tc.cascade, func(t *testing.T) {
			c.apply(nginxDeployment)
			c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
			rs := c.kubectl("get", "rs", "-l", "app=web", "-o", "name")
			mustMatch(t, c.kubectl("delete", "deployment", "web", "--cascade="+tc.cascade, "--timeout=60s"), `deployment.apps "web" deleted`)
			if tc.orphaned {
				mustMatch(t, c.kubectl("get", "rs", "-l", "app=web", "-o", "name"), "^"+rs+"$")
				c.eventually(30*time.Second, []string{"get", "rs", "-l", "app=web", "-o", "jsonpath={.items[0].metadata.ownerReferences}"}, `^$`)
				mustMatch(t, c.kubectl("get", "pods", "-l", "app=web", "--no-headers"), `^(web-\S+\s+1/1\s+Running\s+0\s+\S+\n){2}$`)
				c.kubectl("delete", "rs", "-l", "app=web", "--timeout=60s")
			} else if tc.cascade == "foreground" {
				// The Deployment went only after its dependents.
				mustMatch(t, c.kubectl("get", "rs", "-l", "app=web", "-o", "name"), `^$`)
			}
			c.eventually(30*time.Second, []string{"get", "rs,pods", "-l", "app=web", "-o", "name"}, `^$`)
		})
	}
}
