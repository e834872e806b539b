package nodetest

import (
	"testing"
	"time"
)

// A Job whose pod computes a result: the Job completes and `kubectl logs
// job/NAME` shows the result.
func TestJobComputesAndLogs(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: answer
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: compute
        image: busybox
        imagePullPolicy: IfNotPresent
        command: [sh, -c, 'echo $((6*7))']
`)
	k.kubectl("wait", "job/answer", "--for=condition=Complete", "--timeout=90s")
	if got := k.kubectl("logs", "job/answer"); got != "42\n" {
		t.Fatalf("logs job/answer = %q, want 42", got)
	}
	k.eventually(10*time.Second, []string{"get", "job", "answer", "--no-headers"}, `^answer\s+Complete\s+1/1\s`)
	k.eventually(10*time.Second, []string{"get", "pods", "-l", "job-name=answer", "--no-headers"}, `^answer-\S+\s+0/1\s+Completed\s+0\s`)
	if got := k.jsonpath("job/answer", `{.status.succeeded}`); got != "1" {
		t.Fatalf("job succeeded = %q", got)
	}
}
