package clustertest

import (
	"testing"
	"time"
)

// LimitRange defaults and limits, and a ResourceQuota that stops a
// ReplicaSet at its pod count, as a user meets them.
func TestLimitRangeAndQuota(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	c.kubectl("create", "namespace", "team")
	c.apply(`apiVersion: v1
kind: LimitRange
metadata:
  name: cpu
  namespace: team
spec:
  limits:
  - type: Container
    default: {cpu: 500m}
    defaultRequest: {cpu: 100m}
    max: {cpu: "1"}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: pods
  namespace: team
spec:
  hard: {pods: "2"}
`)
	c.kubectl("run", "small", "-n", "team", "--image=busybox")
	mustMatch(t, c.kubectl("get", "pod", "small", "-n", "team", "-o", "jsonpath={.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.limits.cpu}"),
		`^100m 500m$`)
	mustMatch(t, c.kubectlFails("run", "big", "-n", "team", "--image=busybox", "--overrides", `{"spec":{"containers":[{"name":"big","image":"busybox","resources":{"limits":{"cpu":"2"}}}]}}`),
		`pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`)
	c.eventually(30*time.Second, []string{"get", "resourcequota", "pods", "-n", "team", "--no-headers"}, `^pods\s+pods: 1/2\s+\S+\n$`)

	c.kubectl("create", "deployment", "web", "-n", "team", "--image=nginx", "--replicas=3")
	c.eventually(30*time.Second, []string{"get", "resourcequota", "pods", "-n", "team", "--no-headers"}, `^pods\s+pods: 2/2\s+\S+\n$`)
	c.eventually(30*time.Second, []string{"describe", "replicaset", "-n", "team", "-l", "app=web"},
		`FailedCreate\s+.*replicaset-controller\s+Error creating: pods "web-\S+" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2`)
	mustMatch(t, c.kubectl("get", "pods", "-n", "team", "-l", "app=web", "--no-headers"), `^web-\S+\s+1/1\s+Running\s+0\s+\S+\n$`)
}
