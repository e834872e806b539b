package nodetest

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// kubectl logs with -c, --tail, --timestamps and -f until the container
// exits, all streamed from the node through the API server.
func TestLogs(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: talker
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
  - name: quick
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'for i in 1 2 3 4 5; do echo line $i; done; echo to stderr >&2; exec sleep 3600']
  - name: slow
    image: busybox
    imagePullPolicy: IfNotPresent
    # Waits for the test to follow it, then counts and exits.
    command: [sh, -c, 'echo waiting; while [ ! -f /tmp/go ]; do sleep 0.1; done; for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.2; done; echo done']
`)
	k.eventually(60*time.Second, []string{"get", "pod", "talker", "--no-headers"}, `^talker\s+2/2\s+Running`)
	k.eventually(10*time.Second, []string{"logs", "talker", "-c", "quick"}, `line 5\n`, `to stderr\n`)

	// stdout and stderr are two pipes, so only each one's own order is
	// kept in the log, as with any CRI runtime.
	all := k.kubectl("logs", "talker", "-c", "quick")
	if got := strings.ReplaceAll(all, "to stderr\n", ""); got != "line 1\nline 2\nline 3\nline 4\nline 5\n" || len(lines(all)) != 6 {
		t.Errorf("logs -c quick = %q, want lines 1 to 5 in order and \"to stderr\"", all)
	}
	want := lines(all)
	if got := k.kubectl("logs", "talker", "-c", "quick", "--tail=2"); got != want[4]+"\n"+want[5]+"\n" {
		t.Errorf("logs --tail=2 = %q, want the last two lines of %q", got, all)
	}
	stamped := lines(k.kubectl("logs", "talker", "-c", "quick", "--timestamps"))
	if len(stamped) != 6 {
		t.Fatalf("logs --timestamps: %d lines: %q", len(stamped), stamped)
	}
	var prev time.Time
	for i, l := range stamped {
		ts, text, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Errorf("line %d %q has no RFC 3339 timestamp: %v", i, l, err)
		}
		if at.Before(prev) {
			t.Errorf("line %d %q is stamped before the line above it", i, l)
		}
		prev = at
		if text != want[i] {
			t.Errorf("line %d text %q, want %q", i, text, want[i])
		}
	}
	// Without -c on a two-container pod kubectl picks the default
	// container (the first) and says so; with the annotation-free pod it
	// still answers.
	out, errOut, err := k.run("", "logs", "talker")
	if err != nil || !strings.Contains(out, "line 1") {
		t.Errorf("logs without -c: %v\n%s%s", err, out, errOut)
	}

	// -f follows the slow container and returns when it exits.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	follow := k.n.command(ctx, nil, "-n", k.name, "logs", "-f", "talker", "-c", "slow")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follow.Process.Kill(); follow.Wait() })
	r := bufio.NewReader(stdout)
	first, err := r.ReadString('\n')
	if err != nil || first != "waiting\n" {
		t.Fatalf("logs -f first line %q, %v (%s)", first, err, stderr.String())
	}
	k.kubectl("exec", "talker", "-c", "slow", "--", "touch", "/tmp/go")
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Wait(); err != nil {
		t.Fatalf("logs -f: %v: %s", err, stderr.String())
	}
	wantFollow := "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\ntick 6\ndone\n"
	if string(rest) != wantFollow {
		t.Fatalf("logs -f after the first line = %q, want %q", rest, wantFollow)
	}
	k.waitField(30*time.Second, "pod/talker", `{.status.containerStatuses[?(@.name=="slow")].state.terminated.reason}`, `^Completed$`)
}

// kubectl exec: plain, with stdin piped (-i), with an exit code, and over
// SPDY as well as WebSocket.
func TestExec(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: shell
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sh
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env:
    - name: GREETING
      value: hello from the pod
`)
	k.eventually(60*time.Second, []string{"get", "pod", "shell", "--no-headers"}, `^shell\s+1/1\s+Running`)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"websocket", nil},
		{"spdy", []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := &ns{t: t, n: k.n, name: k.name}
			out, errOut, err := k.runEnv(tc.env, "", "exec", "shell", "--", "echo", "hi")
			if err != nil || out != "hi\n" {
				t.Fatalf("exec echo hi: %q, %v\n%s", out, err, errOut)
			}
			out, errOut, err = k.runEnv(tc.env, "", "exec", "shell", "--", "sh", "-c", `echo "$GREETING"; echo oops >&2`)
			if err != nil || out != "hello from the pod\n" || !strings.Contains(errOut, "oops") {
				t.Fatalf("exec env and stderr: %q %q %v", out, errOut, err)
			}
			// The end of kubectl's stdin reaches the command as end of file.
			stdin := "alpha\nbeta\ngamma\n"
			out, errOut, err = k.n.runTimeout(20*time.Second, tc.env, stdin, "-n", k.name, "exec", "-i", "shell", "--", "sh", "-c", "wc -l; echo end")
			if err != nil || strings.TrimSpace(strings.Split(out, "\n")[0]) != "3" || !strings.HasSuffix(out, "end\n") {
				t.Errorf("exec -i with stdin piped (wc -l): %q, %v\n%s", out, err, errOut)
			}
			out, errOut, err = k.n.runTimeout(20*time.Second, tc.env, "hello over stdin", "-n", k.name, "exec", "-i", "shell", "--", "cat")
			if err != nil || out != "hello over stdin" {
				t.Errorf("exec -i cat: %q, %v\n%s", out, err, errOut)
			}
			// The command's exit status comes back as kubectl's.
			_, errOut, err = k.runEnv(tc.env, "", "exec", "shell", "--", "sh", "-c", "exit 3")
			if err == nil || !strings.Contains(errOut, "command terminated with exit code 3") {
				t.Fatalf("exec exit 3: %v, stderr %q", err, errOut)
			}
			_, errOut, err = k.runEnv(tc.env, "", "exec", "shell", "--", "/no/such/binary")
			if err == nil {
				t.Fatalf("exec of a missing binary succeeded: %s", errOut)
			}
		})
	}
}

// kubectl port-forward pod 0:8080 to the test app, then HTTP through the
// local port answers with the app's version and the pod's hostname.
func TestPortForward(t *testing.T) {
	t.Parallel()
	k := newNamespace(t, sharedNode(t))
	k.apply(`apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: ` + httpAppImage + `
    imagePullPolicy: IfNotPresent
    command: [httpapp]
    ports:
    - containerPort: 8080
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
`)
	k.eventually(60*time.Second, []string{"get", "pod", "app", "--no-headers"}, `^app\s+1/1\s+Running`)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"websocket", nil},
		{"spdy", []string{"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := startPortForward(t, k, tc.env, "pod/app", "0:8080")
			for i := range 3 { // several connections over one forward
				resp, err := http.Get("http://" + local + "/")
				if err != nil {
					t.Fatalf("GET %d through port-forward: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "v1 app\n" {
					t.Fatalf("GET %d: %d %q, want 200 \"v1 app\\n\"", i, resp.StatusCode, body)
				}
			}
		})
	}
}

// startPortForward runs kubectl port-forward until the test ends and
// returns the local address it listens on.
func startPortForward(t *testing.T, k *ns, env []string, target, ports string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := k.n.command(ctx, env, "-n", k.name, "port-forward", "--address", "127.0.0.1", target, ports)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cancel()
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		forwarding := regexp.MustCompile(`^Forwarding from (127\.0\.0\.1:\d+) ->`)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if m := forwarding.FindStringSubmatch(s.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		io.Copy(io.Discard, stdout)
		close(found)
	}()
	select {
	case addr, ok := <-found:
		if !ok {
			t.Fatalf("port-forward exited: %s", stderr.String())
		}
		return addr
	case <-time.After(30 * time.Second):
		t.Fatalf("port-forward not listening in 30s: %s", stderr.String())
	}
	return ""
}
