package nodetest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// A pod's init container runs to completion before its two containers
// start; it leaves a file in an emptyDir that both of them read.
func TestInitContainerThenTwoContainers(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: init
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo made-by-init > /work/token && echo init ran']
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: reader
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo "reader read $(cat /work/token)"; exec sleep 3600']
    volumeMounts: [{name: work, mountPath: /work}]
  - name: second
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'test -f /work/token && echo "second saw $(cat /work/token)"; exec sleep 3600']
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    emptyDir: {}
`)
	k.eventually(60*time.Second, []string{"get", "pod", "web", "--no-headers"}, `^web\s+2/2\s+Running\s+0\s`)

	init := k.jsonpath("pod/web", `{.status.initContainerStatuses[0].state.terminated.reason} {.status.initContainerStatuses[0].state.terminated.exitCode}`)
	if init != "Completed 0" {
		t.Fatalf("init container state: %q, want Completed 0", init)
	}
	mustMatch(t, k.kubectl("logs", "web", "-c", "init"), `^init ran\n$`)
	mustMatch(t, k.kubectl("logs", "web", "-c", "reader"), `^reader read made-by-init\n$`)
	mustMatch(t, k.kubectl("logs", "web", "-c", "second"), `^second saw made-by-init\n$`)

	// Init first: it finished before either container started.
	finished := parseTime(t, k.jsonpath("pod/web", `{.status.initContainerStatuses[0].state.terminated.finishedAt}`))
	for _, c := range []string{"reader", "second"} {
		started := parseTime(t, k.jsonpath("pod/web", `{.status.containerStatuses[?(@.name=="`+c+`")].state.running.startedAt}`))
		if started.Before(finished) {
			t.Errorf("%s started at %s, before the init container finished at %s", c, started, finished)
		}
	}
	conds := k.jsonpath("pod/web", `{range .status.conditions[*]}{.type}={.status} {end}`)
	for _, want := range []string{"Initialized=True", "ContainersReady=True", "Ready=True", "PodScheduled=True"} {
		if !strings.Contains(conds, want) {
			t.Errorf("conditions %q lack %s", conds, want)
		}
	}
	if ip := k.jsonpath("pod/web", `{.status.podIP}`); !strings.HasPrefix(ip, "10.244.") {
		t.Errorf("podIP %q is not in the cluster CIDR 10.244.0.0/16", ip)
	}
	// The containers share the pod's volume and network namespace.
	if got := k.kubectl("exec", "web", "-c", "second", "--", "cat", "/work/token"); got != "made-by-init\n" {
		t.Errorf("second container reads %q from the emptyDir", got)
	}
}

// The seeds' liveness-http example on the test app: liveness tcpSocket on
// the app's port, readiness httpGet on a file under its web root, so the
// pod turns Ready only once `kubectl exec` creates that file; a Service
// selecting it gets its address then, not before.
func TestProbesReadyAfterExecCreatesFile(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: liveness-http
  labels:
    test: liveness
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: liveness
    image: ` + httpAppImage + `
    imagePullPolicy: IfNotPresent
    command: [httpapp]
    ports:
    - containerPort: 8080
    livenessProbe:
      tcpSocket:
        port: 8080
      initialDelaySeconds: 1
      periodSeconds: 1
      timeoutSeconds: 1
    readinessProbe:
      httpGet:
        path: /test.html
        port: 8080
      periodSeconds: 1
      timeoutSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: myservice
spec:
  selector:
    test: liveness
  ports:
  - protocol: TCP
    port: 80
    targetPort: 8080
`)
	k.eventually(60*time.Second, []string{"get", "pod", "liveness-http", "--no-headers"}, `^liveness-http\s+0/1\s+Running\s+0\s`)
	// Not ready for several probe periods while the liveness probe keeps
	// passing: no restart, no Ready.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		got := k.jsonpath("pod/liveness-http", `{.status.containerStatuses[0].ready} {.status.containerStatuses[0].restartCount}`)
		if got != "false 0" {
			t.Fatalf("before the file exists: ready and restartCount %q, want false 0", got)
		}
		time.Sleep(500 * time.Millisecond) // sampling a state that must hold, not waiting for one
	}
	if addrs := k.jsonpath("endpoints/myservice", `{.subsets[*].addresses[*].ip}`); addrs != "" {
		t.Fatalf("myservice has ready addresses %q before the pod is ready", addrs)
	}
	k.kubectl("exec", "liveness-http", "--", "sh", "-c", "echo hello > /www/test.html")
	k.eventually(30*time.Second, []string{"get", "pod", "liveness-http", "--no-headers"}, `^liveness-http\s+1/1\s+Running\s+0\s`)
	if got := k.jsonpath("pod/liveness-http", `{.status.conditions[?(@.type=="Ready")].status}`); got != "True" {
		t.Fatalf("Ready condition %q", got)
	}
	ip := k.jsonpath("pod/liveness-http", `{.status.podIP}`)
	k.waitField(30*time.Second, "endpoints/myservice", `{.subsets[*].addresses[*].ip}`, `^`+strings.ReplaceAll(ip, ".", `\.`)+`$`)

	// Removing the file makes the pod unready again, without a restart.
	k.kubectl("exec", "liveness-http", "--", "rm", "/www/test.html")
	k.eventually(30*time.Second, []string{"get", "pod", "liveness-http", "--no-headers"}, `^liveness-http\s+0/1\s+Running\s+0\s`)
}

// A container that keeps exiting 1 is restarted with back-off and shows
// CrashLoopBackOff, its restart count and its last state.
func TestCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: crash
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo about to fail; exit 1']
`)
	k.eventually(90*time.Second, []string{"get", "pod", "crasher", "--no-headers"}, `^crasher\s+0/1\s+CrashLoopBackOff\s+[1-9]`)
	got := k.jsonpath("pod/crasher", `{.status.containerStatuses[0].state.waiting.reason}|{.status.containerStatuses[0].lastState.terminated.reason}|{.status.containerStatuses[0].lastState.terminated.exitCode}|{.status.containerStatuses[0].restartCount}`)
	parts := strings.Split(got, "|")
	if len(parts) != 4 || parts[0] != "CrashLoopBackOff" || parts[1] != "Error" || parts[2] != "1" {
		t.Fatalf("waiting reason|last reason|exit code|restarts = %q, want CrashLoopBackOff|Error|1|>=1", got)
	}
	if n, err := strconv.Atoi(parts[3]); err != nil || n < 1 {
		t.Fatalf("restartCount %q", parts[3])
	}
	msg := k.jsonpath("pod/crasher", `{.status.containerStatuses[0].state.waiting.message}`)
	mustMatch(t, msg, `^back-off \d+[sm0-9]* restarting failed container=crash pod=crasher_`)
	if phase := k.jsonpath("pod/crasher", `{.status.phase}`); phase != "Running" {
		t.Errorf("phase %q, want Running (restartPolicy Always)", phase)
	}
	mustMatch(t, k.kubectl("logs", "crasher", "--previous"), `about to fail`)
	mustMatch(t, k.kubectl("get", "events", "--field-selector", "involvedObject.name=crasher"), `BackOff`, `Back-off restarting failed container`)
}

// A container exceeding its memory limit is killed by the kernel and
// reported as OOMKilled, with exit code 137.
func TestOOMKilled(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: hog
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: hog
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'x=$(head -c 64m /dev/zero | tr "\0" a); echo survived ${#x}']
    resources:
      limits:
        memory: 16Mi
`)
	k.eventually(60*time.Second, []string{"get", "pod", "hog", "--no-headers"}, `^hog\s+0/1\s+OOMKilled\s+0\s`)
	got := k.jsonpath("pod/hog", `{.status.phase} {.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}`)
	if got != "Failed OOMKilled 137" {
		t.Fatalf("phase, reason, exit code = %q, want Failed OOMKilled 137", got)
	}
}

// Bad input gives upstream's reasons and never a pod stuck in
// ContainerCreating.
func TestBadInputReasons(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: no-image
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: 127.0.0.1:1/nosuch:v1
    imagePullPolicy: IfNotPresent
---
apiVersion: v1
kind: Pod
metadata:
  name: root-image
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsNonRoot: true}
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
---
apiVersion: v1
kind: Pod
metadata:
  name: no-configmap
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env:
    - name: FROM_MISSING
      valueFrom:
        configMapKeyRef: {name: x, key: k}
---
apiVersion: v1
kind: Pod
metadata:
  name: bad-command
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/no/such/binary"]
`)
	t.Run("missing image", func(t *testing.T) {
		k := &ns{t: t, n: k.n, name: k.name}
		// ErrImagePull shows only between a failed pull and the next sync,
		// which finds the image back-off: the lasting state is
		// ImagePullBackOff, whose message carries the pull's error.
		k.waitField(60*time.Second, "pod/no-image", `{.status.containerStatuses[0].state.waiting.reason}`, `^ImagePullBackOff$`)
		mustMatch(t, k.jsonpath("pod/no-image", `{.status.containerStatuses[0].state.waiting.message}`),
			`^Back-off pulling image "127\.0\.0\.1:1/nosuch:v1": ErrImagePull: .*127\.0\.0\.1:1`)
		mustMatch(t, k.kubectl("get", "events", "--field-selector", "involvedObject.name=no-image"),
			`Failed to pull image "127\.0\.0\.1:1/nosuch:v1"`, `Error: ErrImagePull`, `Back-off pulling image`)
	})
	t.Run("runAsNonRoot with a root image", func(t *testing.T) {
		k := &ns{t: t, n: k.n, name: k.name}
		k.eventually(60*time.Second, []string{"get", "pod", "root-image", "--no-headers"}, `^root-image\s+0/1\s+CreateContainerConfigError\s`)
		mustMatch(t, k.jsonpath("pod/root-image", `{.status.containerStatuses[0].state.waiting.message}`),
			`^container has runAsNonRoot and image will run as root \(pod: "root-image_`)
	})
	t.Run("missing configmap", func(t *testing.T) {
		k := &ns{t: t, n: k.n, name: k.name}
		k.eventually(60*time.Second, []string{"get", "pod", "no-configmap", "--no-headers"}, `^no-configmap\s+0/1\s+CreateContainerConfigError\s`)
		msg := k.jsonpath("pod/no-configmap", `{.status.containerStatuses[0].state.waiting.message}`)
		if msg != `configmap "x" not found` {
			t.Fatalf("message %q, want configmap \"x\" not found", msg)
		}
	})
	t.Run("invalid command", func(t *testing.T) {
		k := &ns{t: t, n: k.n, name: k.name}
		// The container fails to start, is retried with back-off, and its
		// last state says why.
		k.waitField(60*time.Second, "pod/bad-command", `{.status.containerStatuses[0].lastState.terminated.reason}`, `^StartError$`)
		got := k.jsonpath("pod/bad-command", `{.status.containerStatuses[0].lastState.terminated.exitCode}|{.status.containerStatuses[0].lastState.terminated.message}`)
		mustMatch(t, got, `^128\|`, `/no/such/binary`)
		k.waitField(60*time.Second, "pod/bad-command", `{.status.containerStatuses[0].state.waiting.reason}`, `^(RunContainerError|CrashLoopBackOff)$`)
	})
	// None of them is left in ContainerCreating.
	for _, pod := range []string{"no-image", "no-configmap", "bad-command"} {
		if got := k.kubectl("get", "pod", pod, "--no-headers"); strings.Contains(got, "ContainerCreating") {
			t.Errorf("pod %s stuck: %s", pod, got)
		}
	}
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}
