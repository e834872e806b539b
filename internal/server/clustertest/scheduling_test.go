package clustertest

import (
	"strings"
	"testing"
	"time"
)

// A pod that fits no node stays Pending with upstream's explanation.
func TestUnschedulablePodEvent(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.kubectl("taint", "node", "sim-0", "dedicated=gpu:NoSchedule")
	// Two pods of equal priority take 2 of the 8 CPUs of sim-1 and sim-2.
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: filler
spec:
  replicas: 2
  selector:
    matchLabels: {app: filler}
  template:
    metadata:
      labels: {app: filler}
    spec:
      containers:
      - name: main
        image: busybox
        resources:
          requests: {cpu: "2"}
`)
	c.kubectl("rollout", "status", "deployment/filler", "--timeout=60s")
	mustMatch(t, c.kubectl("get", "pods", "-l", "app=filler", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}", "--sort-by=.spec.nodeName"),
		`^sim-1\nsim-2\n$`)
	c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: huge
spec:
  containers:
  - name: main
    image: busybox
    resources:
      requests: {cpu: "7"}
`)
	want := `0/3 nodes are available: 1 node\(s\) had untolerated taint \{dedicated: gpu\}, 2 Insufficient cpu\. ` +
		`preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod\.`
	c.eventually(30*time.Second, []string{"describe", "pod", "huge"}, `Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+`+want)
	mustMatch(t, c.kubectl("get", "pod", "huge", "-o", "jsonpath={.status.conditions[0].type} {.status.conditions[0].status} {.status.conditions[0].reason}"),
		`^PodScheduled False Unschedulable$`)

	// Once the pod fits, it is scheduled without being touched.
	c.kubectl("delete", "pod", "huge")
	c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: tolerant
spec:
  tolerations: [{key: dedicated, value: gpu, effect: NoSchedule}]
  nodeSelector: {kubernetes.io/hostname: sim-0}
  containers:
  - name: main
    image: busybox
`)
	c.kubectl("wait", "--for=condition=Ready", "pod/tolerant", "--timeout=30s")
	mustMatch(t, c.kubectl("get", "pod", "tolerant", "-o", "jsonpath={.spec.nodeName}"), `^sim-0$`)
}

// A high-priority pod preempts a lower-priority one.
func TestPriorityPreemption(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 2)
	c.apply(`apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: high
value: 1000
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: filler
spec:
  replicas: 2
  selector:
    matchLabels: {app: filler}
  template:
    metadata:
      labels: {app: filler}
    spec:
      containers:
      - name: main
        image: busybox
        resources:
          requests: {cpu: "6"}
`)
	c.kubectl("rollout", "status", "deployment/filler", "--timeout=60s")
	c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: important
spec:
  priorityClassName: high
  containers:
  - name: main
    image: busybox
    resources:
      requests: {cpu: "6"}
`)
	c.kubectl("wait", "--for=condition=Ready", "pod/important", "--timeout=60s")
	// One filler pod was preempted; its replacement cannot fit anywhere.
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=filler", "--no-headers"}, `(?m)^filler-\S+\s+0/1\s+Pending`, `(?m)^filler-\S+\s+1/1\s+Running`)
	mustMatch(t, c.kubectl("get", "events", "--field-selector", "reason=Preempted", "-o", "jsonpath={.items[*].message}"),
		`Preempted by pod [0-9a-f-]+ on node sim-\d`)
}

// cordon and drain move the pods off a node, honouring a budget.
func TestCordonAndDrain(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.apply(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 6
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: nginx
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
spec:
  minAvailable: 5
  selector:
    matchLabels: {app: web}
`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "pdb", "web", "--no-headers"}, `^web\s+5\s+N/A\s+1\s+\S+\n$`)
	mustMatch(t, c.kubectl("cordon", "sim-1"), `node/sim-1 cordoned`)
	mustMatch(t, c.kubectl("get", "node", "sim-1", "--no-headers"), `^sim-1\s+Ready,SchedulingDisabled\s+`)
	out := c.kubectl("drain", "sim-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=120s")
	mustMatch(t, out, `node/sim-1 drained`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	nodes := c.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}")
	if strings.Contains(nodes, "sim-1") || len(lines(nodes)) != 6 {
		t.Fatalf("after drain, pods on:\n%s", nodes)
	}
	c.kubectl("uncordon", "sim-1")
	mustMatch(t, c.kubectl("get", "node", "sim-1", "--no-headers"), `^sim-1\s+Ready\s+`)
}
