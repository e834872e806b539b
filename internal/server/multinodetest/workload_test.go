package multinodetest

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// workload is what most tests send traffic through: on every node a web
// pod (httpapp, answering its name) and a tools pod (busybox) to send
// from, and the Service web over the web pods.
type workload struct {
	ns    *testNS
	web   map[string]corev1.Pod // by node name
	tools map[string]corev1.Pod // by node name
	svc   corev1.Service
}

const workloadManifest = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations: [{operator: Exists}]
      containers:
      - name: web
        image: ` + httpAppImage + `
        imagePullPolicy: IfNotPresent
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: tools
spec:
  selector:
    matchLabels: {app: tools}
  template:
    metadata:
      labels: {app: tools}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations: [{operator: Exists}]
      containers:
      - name: tools
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sleep, "100000"]
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`

// deployWorkload runs the workload and waits until every pod is Ready.
func deployWorkload(t *testing.T, c *cluster) *workload {
	t.Helper()
	w := &workload{ns: c.namespace(t), web: map[string]corev1.Pod{}, tools: map[string]corev1.Pod{}}
	w.ns.apply(workloadManifest)
	for _, p := range w.ns.waitPodsReady("app=web", len(c.Nodes), 3*time.Minute) {
		w.web[p.Spec.NodeName] = p
	}
	for _, p := range w.ns.waitPodsReady("app=tools", len(c.Nodes), time.Minute) {
		w.tools[p.Spec.NodeName] = p
	}
	if len(w.web) != len(c.Nodes) || len(w.tools) != len(c.Nodes) {
		t.Fatalf("DaemonSet pods on %d and %d nodes, want one on each of %d", len(w.web), len(w.tools), len(c.Nodes))
	}
	w.ns.get("service/web", &w.svc)
	return w
}

// fetch runs n requests for url from the tools pod on node, one after
// another in one exec, and returns the names of the pods that answered
// (the empty name for a failed request).
func (w *workload) fetch(node, url string, n int) ([]string, error) {
	return w.fetchPaced(node, url, n, 0)
}

// fetchPaced is fetch with a pause between requests.
func (w *workload) fetchPaced(node, url string, n int, pause time.Duration) ([]string, error) {
	script := fmt.Sprintf(`for i in $(seq %d); do timeout 2 wget -q -O- %s || echo fail; sleep %.3f; done`, n, url, pause.Seconds())
	out, err := w.ns.exec(w.tools[node].Name, "sh", "-c", script)
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		names = append(names, hostnameOf(l))
	}
	return names, nil
}

// distinct is the sorted set of names.
func distinct(names []string) []string {
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// webNames are the names of the web pods, sorted.
func (w *workload) webNames() []string {
	var names []string
	for _, p := range w.web {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return names
}
