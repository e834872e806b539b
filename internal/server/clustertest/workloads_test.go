package clustertest

import (
	"testing"
	"time"
)

// A DaemonSet runs one pod on every node, and on a node that joins later.
func TestDaemonSetCoversNodes(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.apply(`apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: kube-system
spec:
  selector:
    matchLabels: {name: agent}
  template:
    metadata:
      labels: {name: agent}
    spec:
      containers:
      - name: agent
        image: busybox
`)
	c.kubectl("rollout", "status", "daemonset/agent", "-n", "kube-system", "--timeout=60s")
	mustMatch(t, c.kubectl("get", "ds", "agent", "-n", "kube-system", "--no-headers"), `^agent\s+3\s+3\s+3\s+3\s+3\s+<none>\s+\S+\n$`)
	mustMatch(t, c.kubectl("get", "pods", "-n", "kube-system", "-l", "name=agent", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}", "--sort-by=.spec.nodeName"),
		`^sim-0\nsim-1\nsim-2\n$`)

	c.addSimNode(t, "late-")
	c.eventually(30*time.Second, []string{"get", "ds", "agent", "-n", "kube-system", "--no-headers"}, `^agent\s+4\s+4\s+4\s+4\s+4\s+<none>\s+\S+\n$`)
	mustMatch(t, c.kubectl("get", "pods", "-n", "kube-system", "-l", "name=agent", "--field-selector", "spec.nodeName=late-0", "--no-headers"),
		`^agent-\S+\s+1/1\s+Running\s+0\s+\S+\n$`)
}

// A StatefulSet's pods come up in order with stable names.
func TestStatefulSetOrdered(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.apply(`apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 3
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: postgres:16
`)
	c.kubectl("rollout", "status", "statefulset/db", "--timeout=60s")
	mustMatch(t, c.kubectl("get", "pods", "-l", "app=db", "--no-headers"),
		`(?m)^db-0\s+1/1\s+Running`, `(?m)^db-1\s+1/1\s+Running`, `(?m)^db-2\s+1/1\s+Running`)
	mustMatch(t, c.kubectl("get", "pod", "db-1", "-o", "jsonpath={.spec.hostname}.{.spec.subdomain}"), `^db-1\.db$`)
	c.kubectl("scale", "statefulset/db", "--replicas=1")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=db", "-o", "name"}, `^pod/db-0\n$`)
}

// A Job runs to completion; one whose pod fails stops at its backoff
// limit.
func TestJobs(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	mustMatch(t, c.kubectl("create", "job", "pi", "--image=perl", "--", "perl", "-Mbignum=bpi", "-wle", "print bpi(20)"), `job.batch/pi created`)
	c.kubectl("wait", "--for=condition=Complete", "job/pi", "--timeout=60s")
	mustMatch(t, c.kubectl("get", "job", "pi", "--no-headers"), `^pi\s+Complete\s+1/1\s+\S+\s+\S+\n$`)
	mustMatch(t, c.kubectl("get", "pods", "-l", "job-name=pi", "--no-headers"), `^pi-\S+\s+0/1\s+Completed\s+0\s+\S+\n$`)

	c.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: broken
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {mini.dev/sim-exit-code: "1", mini.dev/sim-duration: "100ms"}
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
`)
	c.kubectl("wait", "--for=condition=Failed", "job/broken", "--timeout=90s")
	mustMatch(t, c.kubectl("get", "job", "broken", "-o", "jsonpath={.status.failed} {.status.conditions[?(@.type==\"Failed\")].reason}"),
		`^2 BackoffLimitExceeded$`)
	mustMatch(t, c.kubectl("get", "pods", "-l", "job-name=broken", "--no-headers"), `(?m)^broken-\S+\s+0/1\s+Error\s+0\s+\S+$`)
	mustMatch(t, c.kubectl("describe", "job", "broken"), `BackoffLimitExceeded\s+\S+\s+job-controller\s+Job has reached the specified backoff limit`)
}

// A CronJob creates Jobs on its schedule.
func TestCronJobSchedules(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	mustMatch(t, c.kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=* * * * *", "--", "date"), `cronjob.batch/tick created`)
	// The first minute boundary is at most 60 s away.
	c.eventually(75*time.Second, []string{"get", "jobs", "--no-headers"}, `(?m)^tick-\d+\s+\S+\s+\S+\s+\S+\s+\S+$`)
	c.eventually(30*time.Second, []string{"get", "cronjob", "tick", "-o", "jsonpath={.status.lastScheduleTime}"}, `^\d{4}-`)
}
