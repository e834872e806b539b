package nodetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"log/slog"

	"mini.dev/mini/internal/server"
)

// serverChildEnv makes the test binary run a server with its real node as
// a child process, configured by the JSON childServer in its value, so
// that a test can SIGKILL it and start it again.
const serverChildEnv = "MINI_NODETEST_SERVER"

// childServer is what a server child is told.
type childServer struct {
	DataDir, Bridge, NetNSDir, NodeName, ClusterCIDR string
}

// runServerChild runs the server until SIGTERM and returns the exit code.
func runServerChild() int {
	var c childServer
	if err := json.Unmarshal([]byte(os.Getenv(serverChildEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, "nodetest server child:", err)
		return 2
	}
	n := &node{dataDir: c.DataDir, bridge: c.Bridge, netnsDir: c.NetNSDir}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(n.serverConfig(c.NodeName, c.ClusterCIDR, logger))
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodetest server child:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "nodetest server child:", err)
		return 1
	}
	return 0
}

// startChild starts the server child for n, logging to n's log file.
func (n *node) startChild(t *testing.T, c childServer) *exec.Cmd {
	t.Helper()
	cfg, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), serverChildEnv+"="+string(cfg))
	cmd.Stdout, cmd.Stderr = n.logFile, n.logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// An agent killed with SIGKILL and started again adopts its running
// containers: the container is not restarted (same ID, start time and
// restart count) and its log continues past the kill with no line lost.
// The server runs as a child process of its own with its own data dir,
// bridge and cluster CIDR, so that the kill hits nothing else.
func TestAgentSIGKILLAdoptsContainers(t *testing.T) {
	skipUnlessNodeCanRun(t)
	t.Parallel()
	n, err := nodeDirs("mnr")
	if err != nil {
		t.Fatal(err)
	}
	if n.logFile, err = os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		t.Fatal(err)
	}
	c := childServer{DataDir: n.dataDir, Bridge: n.bridge, NetNSDir: n.netnsDir, NodeName: "node-restart", ClusterCIDR: "10.245.0.0/16"}
	var child *exec.Cmd
	exited := make(chan error, 1)
	start := func() {
		child = n.startChild(t, c)
		exited = make(chan error, 1)
		go func(cmd *exec.Cmd, done chan<- error) { done <- cmd.Wait() }(child, exited)
	}
	n.stopServer = func() error {
		child.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(60 * time.Second):
			child.Process.Kill()
			<-exited
			return fmt.Errorf("server child %d did not stop in 60s of SIGTERM", child.Process.Pid)
		}
	}
	t.Cleanup(func() {
		if err := n.stop(); err != nil {
			t.Errorf("stopping the restarted node: %v", err)
		}
		if t.Failed() {
			n.printLogTail(os.Stderr, 200)
		}
		n.removeDir()
	})
	start()
	if err := n.waitNodeReady("node-restart", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := importTestImages(context.Background(), n.dataDir); err != nil {
		t.Fatal(err)
	}
	k := newNamespace(t, n)
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: counter
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: count
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'i=0; while true; do echo count $i; i=$((i+1)); sleep 0.1; done']
`)
	k.eventually(60*time.Second, []string{"get", "pod", "counter", "--no-headers"}, `^counter\s+1/1\s+Running\s+0\s`)
	k.eventually(30*time.Second, []string{"logs", "counter"}, `count 10\n`)
	const identity = `{.metadata.uid} {.status.containerStatuses[0].containerID} {.status.containerStatuses[0].state.running.startedAt} {.status.containerStatuses[0].restartCount} {.status.podIP}`
	before := k.jsonpath("pod/counter", identity)
	lastBefore := lastCount(t, k.kubectl("logs", "counter"))

	pid := child.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("server child %d still running 30s after SIGKILL", pid)
	}
	t.Logf("killed the server (pid %d) at count %d; starting it again", pid, lastBefore)
	start()
	if err := n.waitNodeReady("node-restart", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	// The counter keeps going in the meantime; its log shows it past the
	// kill once the agent has adopted the container again.
	past := regexp.MustCompile(`count (\d+)\n$`)
	deadline := time.Now().Add(30 * time.Second)
	var logs string
	for {
		logs = k.kubectl("logs", "counter")
		if m := past.FindStringSubmatch(logs); m != nil {
			if v, _ := strconv.Atoi(m[1]); v > lastBefore+20 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("log does not continue past count %d: ends %q", lastBefore, tail(logs, 200))
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
	}
	if after := k.jsonpath("pod/counter", identity); after != before {
		t.Errorf("pod after the restart (uid containerID startedAt restartCount podIP):\n  %s\nwant unchanged\n  %s", after, before)
	}
	// One unbroken sequence from 0: nothing restarted, no line lost.
	for i, l := range lines(logs) {
		if want := fmt.Sprintf("count %d", i); l != want {
			t.Fatalf("log line %d is %q, want %q (log ends %q)", i, l, want, tail(logs, 200))
		}
	}
	k.eventually(10*time.Second, []string{"get", "pod", "counter", "--no-headers"}, `^counter\s+1/1\s+Running\s+0\s`)
}

func lastCount(t *testing.T, logs string) int {
	t.Helper()
	m := regexp.MustCompile(`count (\d+)\n$`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no count at the end of %q", tail(logs, 200))
	}
	v, _ := strconv.Atoi(m[1])
	return v
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
