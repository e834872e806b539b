package clustertest

import (
	"strings"
	"testing"
	"time"
)

// The seeds' Deployment workflow, as a user types it.
func TestDeploymentRollout(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	mustMatch(t, c.kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3"),
		`^deployment.apps/web created\n$`)
	mustMatch(t, c.kubectl("rollout", "status", "deployment/web", "--timeout=60s"),
		`deployment "web" successfully rolled out`)
	mustMatch(t, c.kubectl("get", "deployment", "web"),
		`(?m)^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE$`, `(?m)^web\s+3/3\s+3\s+3\s+\d+s$`)
	pods := c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "-o", "wide", "--no-headers"},
		`^(web-[a-z0-9]+-[a-z0-9]{5}\s+1/1\s+Running\s+0\s+\S+\s+10\.42\.\d+\.\d+\s+sim-\d\s+<none>\s+<none>\n){3}$`)
	t.Logf("pods:\n%s", pods)

	// Scale up and back down.
	mustMatch(t, c.kubectl("scale", "deployment/web", "--replicas=6"), `deployment.apps/web scaled`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "--no-headers"}, `^(\S+\s+1/1\s+Running\s+0\s+\S+\n){6}$`)
	c.kubectl("scale", "deployment/web", "--replicas=3")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "--no-headers"}, `^(\S+\s+1/1\s+Running\s+0\s+\S+\n){3}$`)

	// A new image rolls out as revision 2; undo brings revision 1's image back.
	mustMatch(t, c.kubectl("set", "image", "deployment/web", "nginx=nginx:1.27"), `deployment.apps/web image updated`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"},
		`^(nginx:1\.27\n){3}$`)
	mustMatch(t, c.kubectl("rollout", "history", "deployment/web"),
		`(?m)^REVISION\s+CHANGE-CAUSE$`, `(?m)^1\s+<none>$`, `(?m)^2\s+<none>$`)
	mustMatch(t, c.kubectl("get", "rs", "-l", "app=web", "--no-headers"), `(?m)^web-\S+\s+3\s+3\s+3\s+\S+$`, `(?m)^web-\S+\s+0\s+0\s+0\s+\S+$`)

	mustMatch(t, c.kubectl("rollout", "undo", "deployment/web", "--to-revision=1"), `deployment.apps/web rolled back`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"},
		`^(nginx:1\.25\n){3}$`)
	mustMatch(t, c.kubectl("rollout", "history", "deployment/web"), `(?m)^2\s+<none>$`, `(?m)^3\s+<none>$`)
	mustNotMatch(t, c.kubectl("rollout", "history", "deployment/web"), `(?m)^1\s`) // revision 1 became 3

	// Pause and resume, restart.
	mustMatch(t, c.kubectl("rollout", "pause", "deployment/web"), `deployment.apps/web paused`)
	c.kubectl("set", "image", "deployment/web", "nginx=nginx:1.28")
	mustMatch(t, c.kubectl("get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].spec.containers[0].image}"), `^nginx:1\.25 nginx:1\.25 nginx:1\.25$`)
	mustMatch(t, c.kubectl("rollout", "resume", "deployment/web"), `deployment.apps/web resumed`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	mustMatch(t, c.kubectl("rollout", "restart", "deployment/web"), `deployment.apps/web restarted`)
	c.kubectl("rollout", "status", "deployment/web", "--timeout=60s")
	c.eventually(30*time.Second, []string{"get", "pods", "-l", "app=web", "--no-headers"}, `^(\S+\s+1/1\s+Running\s+0\s+\S+\n){3}$`)

	// describe shows the controller's events.
	mustMatch(t, c.kubectl("describe", "deployment", "web"), `ScalingReplicaSet\s+\S+\s+deployment-controller\s+Scaled up replica set web-\S+ from 0 to 3`)
}

// A pod relabelled out of its ReplicaSet's selector is released (its
// controller reference removed) and replaced.
func TestReplicaSetReleasesRelabelledPod(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	c.apply(`apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: frontend
spec:
  replicas: 2
  selector:
    matchLabels: {tier: frontend}
  template:
    metadata:
      labels: {tier: frontend}
    spec:
      containers:
      - name: php
        image: php:8
`)
	out := c.eventually(30*time.Second, []string{"get", "pods", "-l", "tier=frontend", "-o", "name"}, `^(pod/frontend-\S+\n){2}$`)
	victim := strings.TrimPrefix(lines(out)[0], "pod/")
	c.kubectl("label", "pod", victim, "tier=debug", "--overwrite")
	c.eventually(30*time.Second, []string{"get", "pod", victim, "-o", "jsonpath={.metadata.ownerReferences}"}, `^$`)
	out = c.eventually(30*time.Second, []string{"get", "pods", "-l", "tier=frontend", "-o", "name"}, `^(pod/frontend-\S+\n){2}$`)
	if strings.Contains(out, victim) {
		t.Fatalf("released pod %s still selected:\n%s", victim, out)
	}
	mustMatch(t, c.kubectl("get", "rs", "frontend", "--no-headers"), `^frontend\s+2\s+2\s+2\s+\S+\n$`)
	// The released pod keeps running on its own.
	mustMatch(t, c.kubectl("get", "pod", victim, "--no-headers"), `Running`)
}
