package clustertest

import (
	"strings"
	"testing"
	"time"

	"mini.dev/mini/internal/server"
)

// A node that stops heartbeating goes NotReady with upstream's taints; its
// pods are evicted once their toleration runs out and are replaced on the
// nodes that are left.
func TestNodeLossEvictsAndReschedules(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, func(cfg *server.Config) {
		// Twice the lease: the live nodes, renewing every second, have
		// eight renewals of margin on a loaded machine; the paused one is
		// still judged lost within seconds.
		cfg.Timing.NodeMonitorGracePeriod = 8 * time.Second
		cfg.NodeLeaseDuration = 4 * time.Second
	})
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      tolerations:
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 2}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: web}}}
      containers:
      - name: main
        image: nginx
`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	mustMatch(t, c.kubectl("get", "pods", "-l", "app=web", "--field-selector", "spec.nodeName=sim-2", "--no-headers"), `^web-\S+\s+1/1\s+Running`)

	c.srv.SimNodes().Pause("sim-2")
	c.eventually(30*time.Second, []string{"get", "node", "sim-2", "--no-headers"}, `^sim-2\s+NotReady\s+`)
	mustMatch(t, c.kubectl("get", "node", "sim-2", "-o", "jsonpath={range .spec.taints[*]}{.key}:{.effect}{\"\\n\"}{end}"),
		`(?m)^node.kubernetes.io/unreachable:NoSchedule$`, `(?m)^node.kubernetes.io/unreachable:NoExecute$`)
	mustMatch(t, c.kubectl("get", "node", "sim-2", "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}"), `^NodeStatusUnknown$`)

	// The evicted pod is replaced by one that stays Pending: sim-2 still
	// counts as a domain of the spread (nodeTaintsPolicy Ignore, as
	// upstream), so a third pod on sim-0 or sim-1 would skew it by 2.
	c.eventually(60*time.Second, []string{"get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{\"\\n\"}{end}"},
		`^((sim-[01] Running| Pending)\n){3}$`, `(?m)^ Pending$`)
	// Back to life: the taints go.
	c.srv.SimNodes().Resume("sim-2")
	c.eventually(30*time.Second, []string{"get", "node", "sim-2", "--no-headers"}, `^sim-2\s+Ready\s+`)
	c.eventually(30*time.Second, []string{"get", "node", "sim-2", "-o", "jsonpath={.spec.taints}"}, `^$`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	if out := c.kubectl("get", "pods", "-l", "app=web", "--no-headers"); len(lines(out)) != 3 || strings.Contains(out, "Pending") {
		t.Fatalf("after the node came back:\n%s", out)
	}
}
