package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/benchutil"
	"mini.dev/mini/internal/server/multinodetest/harness"
	"mini.dev/mini/internal/testimages"
)

// targets are the issue's: pod-to-pod throughput as a share of bare.
var targets = map[string]float64{"vxlan": 0.85, "host-gw": 0.95}

// result is one backend's figures in Gbit/s.
type result struct {
	backend   string
	bare, pod float64
}

func run(ctx context.Context, o options) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root (network namespaces, containerd)")
	}
	for _, bin := range []string{"iperf3", "nsenter", "containerd", "runc", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not installed (scripts/install-deps.sh run bench)", bin)
		}
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", bin, err)
	}
	busybox, err := testimages.Busybox(o.imageCache)
	if err != nil {
		return fmt.Errorf("building the busybox image: %w", err)
	}
	harness.RemoveStaleHosts(regexp.MustCompile(`^nb\d(\d+)$`), "netbench", os.Stderr)
	var results []result
	for i, backend := range o.backends {
		r, err := measure(ctx, o, bin, busybox, backend, i)
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
		results = append(results, r)
	}
	report(results, o)
	return nil
}

// report prints the table.
func report(results []result, o options) {
	var rows []benchutil.Row
	for _, r := range results {
		rows = append(rows, benchutil.Row{
			What:   fmt.Sprintf("TCP, bare host to host (%s run)", r.backend),
			Figure: fmt.Sprintf("%.2f Gbit/s", r.bare),
		})
		ratio := r.pod / r.bare
		rows = append(rows, benchutil.Row{
			What:    fmt.Sprintf("TCP, pod to pod across nodes, %s", r.backend),
			Figure:  fmt.Sprintf("%.2f Gbit/s (%.0f%%)", r.pod, 100*ratio),
			Target:  fmt.Sprintf(">= %.0f%% of bare", 100*targets[r.backend]),
			Verdict: benchutil.Verdict(ratio >= targets[r.backend]),
		})
	}
	fmt.Printf("\nnetbench: iperf3, one stream, median of %d runs of %d s, two nodes of scripts/mini-hosts\n", o.runs, o.seconds)
	benchutil.PrintTable(os.Stdout, rows)
}

// measure builds a two-node cluster on backend and measures bare and
// pod-to-pod throughput across it; the cluster is torn down however it
// ends, and when ctx ends.
func measure(ctx context.Context, o options, bin, busybox, backend string, i int) (result, error) {
	r := result{backend: backend}
	c, err := harness.New(harness.Spec{
		Bin: bin, Prefix: fmt.Sprintf("nb%d%d", i, os.Getpid()), Backend: backend, Nodes: 2,
		ClusterCIDR: "10.46.0.0/16", FirstNet: 150 + i, Images: []string{busybox},
	})
	if err != nil {
		return r, err
	}
	done := make(chan struct{})
	defer func() {
		close(done)
		var b bytes.Buffer
		if err := c.Teardown(&b); err != nil {
			fmt.Fprintf(os.Stderr, "netbench: tearing down: %v\n%s", err, b.String())
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			c.Teardown(&bytes.Buffer{})
		case <-done:
		}
	}()
	fmt.Fprintf(os.Stderr, "netbench: %s: starting two nodes\n", backend)
	started := time.Now()
	if err := c.Start(); err != nil {
		c.PrintLogs(os.Stderr, 40)
		return r, err
	}
	fmt.Fprintf(os.Stderr, "netbench: %s: up in %s on %s.0/24\n", backend, time.Since(started).Round(time.Millisecond), c.Hosts.Net)

	// Bare: host 1's namespace serves, host 0's sends, over the bridge.
	addr1 := c.Hosts.Addr(1)
	if r.bare, err = throughput(ctx, o,
		harness.InNS(c.Hosts.NS(1), "iperf3", "-s", "-B", addr1),
		harness.InNS(c.Hosts.NS(0), "iperf3", "-c", addr1, "-t", fmt.Sprint(o.seconds), "-J")); err != nil {
		return r, fmt.Errorf("bare: %w", err)
	}
	fmt.Fprintf(os.Stderr, "netbench: %s: bare %.2f Gbit/s\n", backend, r.bare)

	server, client, err := iperfPods(ctx, c)
	if err != nil {
		return r, err
	}
	if r.pod, err = throughput(ctx, o,
		nsenter(server.pid, "iperf3", "-s", "-B", server.ip),
		nsenter(client.pid, "iperf3", "-c", server.ip, "-t", fmt.Sprint(o.seconds), "-J")); err != nil {
		return r, fmt.Errorf("pod to pod: %w", err)
	}
	fmt.Fprintf(os.Stderr, "netbench: %s: pod to pod %.2f Gbit/s\n", backend, r.pod)
	return r, nil
}

// nsenter is argv run in the network namespace of process pid.
func nsenter(pid int, argv ...string) []string {
	return append([]string{"nsenter", "-t", fmt.Sprint(pid), "-n"}, argv...)
}

// pod is a pod's address and a process in its network namespace.
type pod struct {
	ip  string
	pid int
}

// iperfPods runs a busybox pod on each node, pinned by nodeName, and
// finds each one's process by its unique `sleep` argument.
func iperfPods(ctx context.Context, c *harness.Cluster) (server, client pod, err error) {
	mark := func(role int) string { return fmt.Sprint(1000000 + (os.Getpid()%100000)*10 + role) }
	manifest := func(name, node, mark string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: sleep
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "%s"]
---
`, name, node, mark)
	}
	m := manifest("iperf-server", c.Nodes[1].Name, mark(1)) + manifest("iperf-client", c.Nodes[0].Name, mark(2))
	if out, errOut, err := c.Kubectl(time.Minute, m, "apply", "-f", "-"); err != nil {
		return server, client, fmt.Errorf("kubectl apply: %w\n%s%s", err, out, errOut)
	}
	deadline := time.Now().Add(settle)
	for {
		var list corev1.PodList
		out, _, err := c.Kubectl(time.Minute, "", "get", "pods", "-n", "default", "-o", "json")
		if err == nil && json.Unmarshal([]byte(out), &list) == nil {
			ips := map[string]string{}
			for _, p := range list.Items {
				if p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
					ips[p.Name] = p.Status.PodIP
				}
			}
			if ips["iperf-server"] != "" && ips["iperf-client"] != "" {
				server.ip, client.ip = ips["iperf-server"], ips["iperf-client"]
				server.pid, client.pid = findProcess("sleep", mark(1)), findProcess("sleep", mark(2))
				if server.pid > 0 && client.pid > 0 {
					return server, client, nil
				}
			}
		}
		if ctx.Err() != nil {
			return server, client, ctx.Err()
		}
		if time.Now().After(deadline) {
			return server, client, fmt.Errorf("iperf pods not running within %s", settle)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// findProcess is the PID of the process whose argv is exactly argv, or 0.
func findProcess(argv ...string) int {
	want := strings.Join(argv, "\x00") + "\x00"
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && string(b) == want {
			return pid
		}
	}
	return 0
}

// throughput runs the iperf3 server, then the client o.runs times, and
// returns the median received rate in Gbit/s.
func throughput(ctx context.Context, o options, serverArgv, clientArgv []string) (float64, error) {
	srv := exec.CommandContext(ctx, serverArgv[0], serverArgv[1:]...)
	var srvOut bytes.Buffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		return 0, err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	var rates []float64
	deadline := time.Now().Add(20 * time.Second)
	for len(rates) < o.runs {
		rate, err := iperfClient(ctx, clientArgv)
		if err != nil {
			// The server may not listen yet: retry for a while.
			if time.Now().After(deadline) || ctx.Err() != nil {
				return 0, fmt.Errorf("%w (server: %s)", err, strings.TrimSpace(srvOut.String()))
			}
			time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
			continue
		}
		rates = append(rates, rate)
	}
	sort.Float64s(rates)
	return rates[len(rates)/2], nil
}

// iperfClient runs one client and returns the received rate in Gbit/s.
func iperfClient(ctx context.Context, argv []string) (float64, error) {
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	var report struct {
		Error string `json:"error"`
		End   struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		return 0, fmt.Errorf("iperf3: %v, output %q", err, out)
	}
	if report.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", report.Error)
	}
	if err != nil {
		return 0, fmt.Errorf("iperf3: %w", err)
	}
	return report.End.SumReceived.BitsPerSecond / 1e9, nil
}
