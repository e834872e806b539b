package nodetest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Graceful deletion: the preStop hook runs first, then SIGTERM, and a
// container that ignores SIGTERM is killed once the grace period is over;
// `kubectl delete` returns once the pod is gone. The hook and the
// container write into a hostPath directory the test reads from the host
// (the node is this machine).
func TestGracefulDeletionWithPreStop(t *testing.T) {
	t.Parallel()
	n := sharedNode(t)
	k := newNamespace(t, n)
	for _, tc := range []struct {
		name string
		// trap is what the container does on SIGTERM.
		trap  string
		grace int
		// wantLog is the log the hostPath file must hold at the end.
		wantLog string
		// minTook and maxTook bound how long the deletion takes.
		minTook, maxTook time.Duration
	}{
		{name: "exits-on-term", trap: `echo term >> /host/log; exit 0`, grace: 30,
			wantLog: "started\nprestop\nterm\n", minTook: 0, maxTook: 15 * time.Second},
		{name: "ignores-term", trap: ``, grace: 4,
			wantLog: "started\nprestop\n", minTook: 4 * time.Second, maxTook: 14 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &ns{t: t, n: n, name: k.name}
			hostDir := filepath.Join(n.dir, "hostpath", k.name, tc.name)
			if err := os.MkdirAll(hostDir, 0o755); err != nil {
				t.Fatal(err)
			}
			k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: ` + tc.name + `
spec:
  terminationGracePeriodSeconds: ` + strconv.Itoa(tc.grace) + `
  containers:
  - name: main
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'trap "` + tc.trap + `" TERM; echo started >> /host/log; while true; do sleep 0.1; done']
    lifecycle:
      preStop:
        exec:
          command: [sh, -c, 'echo prestop >> /host/log']
    volumeMounts: [{name: host, mountPath: /host}]
  volumes:
  - name: host
    hostPath: {path: ` + hostDir + `, type: Directory}
`)
			k.eventually(60*time.Second, []string{"get", "pod", tc.name, "--no-headers"}, `^`+tc.name+`\s+1/1\s+Running`)
			logPath := filepath.Join(hostDir, "log")
			if data, _ := os.ReadFile(logPath); string(data) != "started\n" {
				t.Fatalf("before deletion the log is %q", data)
			}
			start := time.Now()
			k.kubectl("delete", "pod", tc.name, "--timeout=60s")
			took := time.Since(start)
			t.Logf("delete took %s", took.Round(10*time.Millisecond))
			if took < tc.minTook || took > tc.maxTook {
				t.Errorf("delete took %s, want between %s and %s (grace %ds)", took, tc.minTook, tc.maxTook, tc.grace)
			}
			if out, errOut, err := k.run("", "get", "pod", tc.name); err == nil || !strings.Contains(errOut, "NotFound") {
				t.Errorf("pod still there after delete returned: %s%s", out, errOut)
			}
			data, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.wantLog {
				t.Errorf("log = %q, want %q (preStop before SIGTERM)", data, tc.wantLog)
			}
		})
	}
}
