package apitest

// pods/log, exec and port-forward end to end: kubectl -> API server ->
// the agent's kubelet endpoint (internal/agent/endpoint) with a fake
// runtime behind it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/agent/endpoint"
	"mini.dev/mini/internal/pki"
	"mini.dev/mini/internal/runtime"
	"mini.dev/mini/internal/runtime/crilog"
	"mini.dev/mini/internal/store"
)

// streamPods is the agent side: containers "pod/container" with a log
// file each, running or not.
type streamPods struct {
	dir     string
	mu      sync.Mutex
	running map[string]bool
	calls   map[string]int // Container calls by "pod/container"
}

func (p *streamPods) Container(ns, pod, container string, previous bool) (endpoint.ContainerRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := pod + "/" + container
	p.calls[key]++
	running, ok := p.running[key]
	if ns != "default" || !ok || previous {
		return endpoint.ContainerRef{}, fmt.Errorf("container %q in pod %q is not available: %w", container, pod, endpoint.ErrNotFound)
	}
	return endpoint.ContainerRef{ID: key, LogPath: p.logPath(pod, container), Running: running}, nil
}

func (p *streamPods) callsOf(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[key]
}

func (p *streamPods) Sandbox(ns, pod string) (string, error) { return "sandbox-" + pod, nil }

func (p *streamPods) logPath(pod, container string) string {
	return filepath.Join(p.dir, pod+"_"+container+".log")
}

func (p *streamPods) setRunning(key string, running bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[key] = running
}

func (p *streamPods) log(t *testing.T, pod, container string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(p.logPath(pod, container), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := crilog.NewWriter(f, crilog.Stdout)
	for _, l := range lines {
		w.Write([]byte(l + "\n"))
	}
}

// fakeStreamer runs "echo args", "cat" and "fail N" in-process, and
// forwards ports to 127.0.0.1.
type fakeStreamer struct{}

func (fakeStreamer) ExecSync(context.Context, string, []string, time.Duration) (*runtime.ExecResult, error) {
	return nil, errors.New("not used")
}

func (fakeStreamer) Exec(ctx context.Context, id string, cmd []string, s runtime.Streams) (int32, error) {
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
		return 0, nil
	case "cat":
		_, err := io.Copy(s.Stdout, s.Stdin)
		return 0, err
	case "fail":
		var code int32
		fmt.Sscan(cmd[1], &code)
		return code, nil
	}
	return 127, nil
}

func (fakeStreamer) Attach(ctx context.Context, id string, s runtime.Streams) error {
	fmt.Fprintln(s.Stdout, "attached to "+id)
	return nil
}

func (fakeStreamer) PortForward(ctx context.Context, sandbox string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer c.Close()
	go io.Copy(c, stream)
	_, err = io.Copy(stream, c)
	return err
}

// streamCluster is an API server with a node "node1" whose kubelet
// endpoint runs on 127.0.0.1, a node "sim1" without one, and pods:
// web and follow (container app, running), multi (a, b), pending (no
// status yet), simpod (on sim1).
type streamCluster struct {
	*testServer
	pods *streamPods
}

func startStreamCluster(t *testing.T) *streamCluster {
	ts := startServer(t, store.Config{})
	pods := &streamPods{dir: t.TempDir(), calls: map[string]int{},
		running: map[string]bool{"web/app": true, "follow/app": true, "multi/a": true, "multi/b": true, "simpod/app": true}}
	certPEM, keyPEM, err := ts.ca.Issue(pki.Request{CommonName: "system:node:node1", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	ep, err := endpoint.New(endpoint.Config{Addr: "127.0.0.1:0", CertPEM: certPEM, KeyPEM: keyPEM, ClientCAs: ts.ca.Pool(), Pods: pods, Streams: fakeStreamer{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ep.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	select {
	case <-ep.Ready():
	case err := <-done:
		t.Fatal(err)
	}

	c := ts.client()
	bg := context.Background()
	for name, port := range map[string]int{"node1": ep.Port(), "sim1": 0} {
		n, err := c.CoreV1().Nodes().Create(bg, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: name}}
		n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
		if _, err := c.CoreV1().Nodes().UpdateStatus(bg, n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []struct {
		name, node string
		containers []string
		running    bool
	}{
		{"web", "node1", []string{"app"}, true},
		{"follow", "node1", []string{"app"}, true},
		{"multi", "node1", []string{"a", "b"}, true},
		{"pending", "node1", []string{"app"}, false},
		{"simpod", "sim1", []string{"app"}, true},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: p.node}}
		for _, name := range p.containers {
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: name, Image: "busybox"})
		}
		pod, err := c.CoreV1().Pods("default").Create(bg, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.running {
			continue
		}
		pod.Status.Phase = corev1.PodRunning
		for _, name := range p.containers {
			pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: name, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
		}
		if _, err := c.CoreV1().Pods("default").UpdateStatus(bg, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	pods.log(t, "web", "app", "one", "two", "three")
	pods.log(t, "follow", "app", "one", "two", "three")
	return &streamCluster{testServer: ts, pods: pods}
}

// kubectlCmd is the bundled kubectl as the admin, with extra environment.
func (sc *streamCluster) kubectlCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), kubectlChildEnv+"=1", "KUBECONFIG="+sc.kubeconfig, "HOME="+sc.home), env...)
	return cmd
}

func (sc *streamCluster) run(env []string, stdin string, args ...string) (string, string, error) {
	sc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := sc.kubectlCmd(ctx, env, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

// TestStreams shares one cluster between its parallel parts: each
// kubectl run is a process start, and they add up.
func TestStreams(t *testing.T) {
	sc := startStreamCluster(t)
	for name, test := range map[string]func(*testing.T, *streamCluster){
		"logs":          testKubectlLogs,
		"logs follow":   testKubectlLogsFollow,
		"log errors":    testPodLogErrors,
		"authorization": testStreamAuthorization,
		"exec":          testKubectlExec,
		"attach":        testKubectlAttach,
		"port-forward":  testKubectlPortForward,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, sc)
		})
	}
}

func testKubectlLogs(t *testing.T, sc *streamCluster) {
	tsLine := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n$`)
	tests := []struct {
		args  []string
		want  string
		match *regexp.Regexp
	}{
		{args: []string{"logs", "web"}, want: "one\ntwo\nthree\n"},
		{args: []string{"logs", "web", "--tail=2"}, want: "two\nthree\n"},
		{args: []string{"logs", "pod/web", "-c", "app", "--limit-bytes=6"}, want: "one\ntw"},
		{args: []string{"logs", "web", "--tail=1", "--timestamps"}, match: tsLine},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, err := sc.run(nil, "", tt.args...)
			if err != nil {
				t.Fatalf("%v: %s", err, errOut)
			}
			if tt.match != nil && !tt.match.MatchString(out) || tt.match == nil && out != tt.want {
				t.Errorf("got %q, want %q", out, tt.want)
			}
		})
	}
}

func testKubectlLogsFollow(t *testing.T, sc *streamCluster) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := sc.kubectlCmd(ctx, nil, "logs", "-f", "follow")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	before := sc.pods.callsOf("follow/app")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The endpoint asks whether the container still runs each time it
	// reaches the end of the file: once it has, kubectl is following.
	deadline := time.Now().Add(30 * time.Second)
	for sc.pods.callsOf("follow/app") < before+2 {
		if time.Now().After(deadline) {
			t.Fatal("kubectl logs -f never reached the end of the log")
		}
		time.Sleep(10 * time.Millisecond)
	}
	sc.pods.log(t, "follow", "app", "four")
	sc.pods.setRunning("follow/app", false)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl logs -f: %v: %s", err, errOut.String())
	}
	if got := out.String(); got != "one\ntwo\nthree\nfour\n" {
		t.Errorf("got %q", got)
	}
}

func testPodLogErrors(t *testing.T, sc *streamCluster) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"logs", "multi", "-c", "nope"}, "container nope is not valid for pod multi"},
		{[]string{"logs", "pending"}, `container "app" in pod "pending" is waiting to start: ContainerCreating`},
		{[]string{"logs", "simpod"}, `node "sim1" has no kubelet endpoint`},
		{[]string{"logs", "web", "--previous"}, `previous terminated container "app" in pod "web" not found`},
		{[]string{"exec", "simpod", "--", "echo"}, `node "sim1" has no kubelet endpoint`},
		{[]string{"logs", "ghost"}, `pods "ghost" not found`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, errOut, err := sc.run(nil, "", tt.args...)
			if err == nil || !strings.Contains(errOut, tt.want) {
				t.Errorf("err %v, stderr %q, want it to say %q", err, errOut, tt.want)
			}
		})
	}
	// kubectl picks a container itself; the API's own error shows
	// through client-go.
	_, err := sc.client().CoreV1().Pods("default").GetLogs("multi", &corev1.PodLogOptions{}).Stream(context.Background())
	if want := "a container name must be specified for pod multi, choose one of: [a b]"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("logs of multi without a container: %v, want %q", err, want)
	}
}

// TestStreamAuthorization checks that RBAC guards the subresources as
// upstream: a user who may read pods may not exec into them.
func testStreamAuthorization(t *testing.T, sc *streamCluster) {
	sc.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	sc.kubectl("create", "rolebinding", "bob-reads", "--role=pod-reader", "--user=bob")
	bob := sc.writeKubeconfig("bob", "bob")
	for _, args := range [][]string{{"exec", "web", "--", "echo"}, {"logs", "web"}} {
		out, errOut, err := sc.kubectlAs(bob, "", args...)
		sub := "pods/" + map[string]string{"exec": "exec", "logs": "log"}[args[0]]
		if err == nil || !strings.Contains(errOut, "forbidden") || !strings.Contains(errOut, sub) {
			t.Errorf("bob: kubectl %v: %q, %v, stderr %q; want forbidden on %s", args, out, err, errOut, sub)
		}
	}
}

func testKubectlExec(t *testing.T, sc *streamCluster) {
	transports := map[string][]string{
		"websocket": nil,
		"spdy":      {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"},
	}
	for name, env := range transports {
		t.Run(name, func(t *testing.T) {
			out, errOut, err := sc.run(env, "", "exec", "web", "--", "echo", "hello", "world")
			if err != nil || out != "hello world\n" {
				t.Errorf("exec echo: %q, %v: %s", out, err, errOut)
			}
			out, errOut, err = sc.run(env, "piped\ninput\n", "exec", "-i", "web", "--", "cat")
			if err != nil || out != "piped\ninput\n" {
				t.Errorf("exec -i cat: %q, %v: %s", out, err, errOut)
			}
			_, errOut, err = sc.run(env, "", "exec", "web", "--", "fail", "3")
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 3 {
				t.Errorf("exec fail 3: %v: %s, want exit code 3", err, errOut)
			}
			out, errOut, err = sc.run(env, "", "exec", "multi", "-c", "b", "--", "echo", "in b")
			if err != nil || out != "in b\n" {
				t.Errorf("exec in b: %q, %v: %s", out, err, errOut)
			}
		})
	}
}

func testKubectlAttach(t *testing.T, sc *streamCluster) {
	out, errOut, err := sc.run(nil, "", "attach", "web")
	if err != nil || !strings.Contains(out, "attached to web/app") {
		t.Errorf("attach: %q, %v: %s", out, err, errOut)
	}
}

func testKubectlPortForward(t *testing.T, sc *streamCluster) {
	// The "pod's" server: upper-cases what it reads.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 5)
				if _, err := io.ReadFull(c, b); err == nil {
					c.Write(bytes.ToUpper(b))
				}
			}()
		}
	}()
	podPort := ln.Addr().(*net.TCPAddr).Port
	transports := map[string][]string{
		"websocket": nil,
		"spdy":      {"KUBECTL_PORT_FORWARD_WEBSOCKETS=false"},
	}
	forwarding := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) ->`)
	for name, env := range transports {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := sc.kubectlCmd(ctx, env, "port-forward", "--address=127.0.0.1", "pod/web", fmt.Sprintf(":%d", podPort))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cmd.Process.Kill()
				cmd.Wait()
			})
			var local string
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if m := forwarding.FindStringSubmatch(sc.Text()); m != nil {
					local = m[1]
					break
				}
			}
			if local == "" {
				t.Fatalf("no forwarding line; stderr: %s", errOut.String())
			}
			go io.Copy(io.Discard, stdout)
			for i := range 3 {
				c, err := net.Dial("tcp", "127.0.0.1:"+local)
				if err != nil {
					t.Fatal(err)
				}
				c.Write([]byte("hello"))
				got, err := io.ReadAll(c)
				c.Close()
				if err != nil || string(got) != "HELLO" {
					t.Fatalf("connection %d: got %q, %v; stderr: %s", i, got, err, errOut.String())
				}
			}
		})
	}
}
