package clustertest

import (
	"testing"
	"time"
)

// A Service's Endpoints and EndpointSlices follow its ready pods.
func TestServiceEndpoints(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "--port=80")
	mustMatch(t, c.kubectl("expose", "deployment", "web", "--port=8080", "--target-port=80"), `service/web exposed`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "endpoints", "web", "--no-headers"},
		`^web\s+10\.42\.\d+\.\d+:80,10\.42\.\d+\.\d+:80,10\.42\.\d+\.\d+:80\s+\S+\n$`)
	c.eventually(30*time.Second, []string{"get", "endpointslices", "-l", "kubernetes.io/service-name=web", "--no-headers"},
		`^web-\S+\s+IPv4\s+80\s+10\.42\.\d+\.\d+,10\.42\.\d+\.\d+,10\.42\.\d+\.\d+\s+\S+\n$`)
	mustMatch(t, c.kubectl("describe", "service", "web"), `(?m)^Endpoints:\s+10\.42\.\d+\.\d+:80,10\.42\.\d+\.\d+:80,10\.42\.\d+\.\d+:80$`)
	c.kubectl("scale", "deployment/web", "--replicas=1")
	c.eventually(30*time.Second, []string{"get", "endpoints", "web", "--no-headers"}, `^web\s+10\.42\.\d+\.\d+:80\s+\S+\n$`)
}
