package clustertest

import (
	"testing"
	"time"
)

// The scheduler and the controller manager run in the server's process,
// so `kubectl get componentstatuses` reports them healthy, as on a
// kubeadm cluster.
func TestComponentStatusesHealthy(t *testing.T) {
	c := startCluster(t, 0)
	c.eventually(10*time.Second, []string{"get", "componentstatuses"},
		`(?m)^scheduler\s+Healthy\s+ok`, `(?m)^controller-manager\s+Healthy\s+ok`, `(?m)^etcd-0\s+Healthy\s+ok`)
}
