package multinodetest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"mini.dev/mini/internal/server/multinodetest/harness"
)

// spareHost is the first host built beside the cluster's nodes.
func (c *cluster) spareHost(t *testing.T) int {
	t.Helper()
	if c.Spec.Spare == 0 {
		t.Fatal("this cluster has no spare host")
	}
	return c.Spec.Nodes
}

// failingAgent runs `mini agent --join` on the spare host with a fresh
// data dir, expects it to exit non-zero within timeout and returns what
// it wrote; an agent still running at the deadline is killed and fails t.
func (c *cluster) failingAgent(t *testing.T, server, token, name string, timeout time.Duration) string {
	t.Helper()
	spare := c.spareHost(t)
	d := filepath.Join(c.Dir, fmt.Sprintf("spare-%d-%d", spare, time.Now().UnixNano()))
	n := c.NewNode(spare, name, d)
	n.Args = c.AgentArgs(n, token)
	if server != "" {
		n.Args[2] = server
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(d)
	select {
	case <-n.Exited():
	case <-time.After(timeout):
		n.Kill()
		t.Fatalf("mini agent %s still runs %s after it started, want it refused:\n%s", strings.Join(n.Args, " "), timeout, harness.TailFile(n.LogPath, 30))
	}
	log, _ := os.ReadFile(n.LogPath)
	// The log opens with the harness's "=== ... mini agent ..." line.
	_, out, _ := strings.Cut(string(log), "\n")
	if n.Err() == nil {
		t.Fatalf("mini agent %s exited 0, want a failure:\n%s", strings.Join(n.Args, " "), out)
	}
	return out
}

// testBadJoinToken: a token whose secret or CA hash is wrong, a token that
// is no token, and a server that is not there each end the agent with one
// clear line and a non-zero exit, and register no node.
func testBadJoinToken(t *testing.T, c *cluster) {
	good := c.Token
	// K10<ca-sha256>::<credentials>: change one character of each part.
	sep := strings.Index(good, "::")
	if !strings.HasPrefix(good, "K10") || sep < 0 {
		t.Fatalf("token %q is not K10<ca-hash>::<secret>", good)
	}
	for _, tc := range []struct {
		Name, server, token string
		want                string // a word the line must hold
	}{
		{"wrong secret", "", flip(good, len(good)-1), "token"},
		{"CA hash of another server", "", flip(good, 3), "CA"},
		{"not a token", "", "nonsense", "token"},
		{"nothing listening", "https://" + c.Hosts.Addr(c.Spec.Nodes) + ":6443", good, ""},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			name := "bad-" + strings.ReplaceAll(strings.ToLower(tc.Name), " ", "-")
			out := c.failingAgent(t, tc.server, tc.token, name, 60*time.Second)
			lines := nonEmptyLines(out)
			if len(lines) != 1 {
				t.Errorf("the agent wrote %d lines, want one clear line:\n%s", len(lines), out)
			}
			if tc.want != "" && !strings.Contains(strings.ToLower(out), strings.ToLower(tc.want)) {
				t.Errorf("the agent's error does not mention %q:\n%s", tc.want, out)
			}
			if _, _, err := c.kubectl("", "get", "node", name); err == nil {
				t.Errorf("node %s registered with a bad join", name)
			}
		})
	}
}

// testDuplicateNodeName: a second machine with a good token claiming the
// name of a node that exists is refused, and the node is left as it was.
func testDuplicateNodeName(t *testing.T, c *cluster) {
	victim := c.Nodes[1]
	var before corev1.Node
	getJSON(t, c, &before, "get", "node", victim.Name, "-o", "json")
	out := c.failingAgent(t, "", c.Token, victim.Name, 60*time.Second)
	if len(nonEmptyLines(out)) != 1 || !strings.Contains(out, victim.Name) {
		t.Errorf("the agent's refusal is not one line naming %s:\n%s", victim.Name, out)
	}
	var after corev1.Node
	getJSON(t, c, &after, "get", "node", victim.Name, "-o", "json")
	if after.UID != before.UID || internalIP(&after) != victim.IP || after.Spec.PodCIDR != before.Spec.PodCIDR {
		t.Errorf("node %s changed: uid %s->%s, InternalIP %s (want %s), podCIDR %s->%s", victim.Name,
			before.UID, after.UID, internalIP(&after), victim.IP, before.Spec.PodCIDR, after.Spec.PodCIDR)
	}
	if err := c.WaitNodesReady([]string{victim.Name}, 30*time.Second); err != nil {
		t.Error(err)
	}
}

// testAgentRestart: an agent stopped and started again keeps its node's
// identity (UID, pod CIDR, addresses, VTEP) and its pods, and traffic to
// its pods carries on meanwhile.
func testAgentRestart(t *testing.T, c *cluster, w *workload) {
	n := c.Nodes[1]
	var before corev1.Node
	getJSON(t, c, &before, "get", "node", n.Name, "-o", "json")
	target := w.web[n.Name]
	from := c.Nodes[0].Name
	url := fmt.Sprintf("http://%s:8080/", target.Status.PodIP)
	// Requests every 100 ms from a pod on another node, across the restart.
	type result struct {
		names []string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		names, err := w.fetchPaced(from, url, 150, 100*time.Millisecond)
		done <- result{names, err}
	}()
	if err := n.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodesReady([]string{n.Name}, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	var after corev1.Node
	getJSON(t, c, &after, "get", "node", n.Name, "-o", "json")
	if after.UID != before.UID || after.Spec.PodCIDR != before.Spec.PodCIDR || internalIP(&after) != internalIP(&before) {
		t.Errorf("node %s after its agent restarted: uid %s podCIDR %s IP %s, want %s %s %s", n.Name,
			after.UID, after.Spec.PodCIDR, internalIP(&after), before.UID, before.Spec.PodCIDR, internalIP(&before))
	}
	for k, v := range before.Annotations {
		if strings.Contains(k, "flannel") && after.Annotations[k] != v {
			t.Errorf("node annotation %s: %q after the restart, want %q", k, after.Annotations[k], v)
		}
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	failed := 0
	for _, name := range r.names {
		if name != target.Name {
			failed++
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests to %s's pod failed while its agent restarted", failed, len(r.names), n.Name)
	}
	var pod corev1.Pod
	w.ns.get("pod/"+target.Name, &pod)
	if pod.UID != target.UID || pod.Status.PodIP != target.Status.PodIP || pod.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the web pod on %s changed across the restart: uid %s ip %s restarts %d", n.Name, pod.UID, pod.Status.PodIP, pod.Status.ContainerStatuses[0].RestartCount)
	}
}

// testNodeLeaving: a node whose agent stops and whose Node is deleted is
// gone from the others' routes (and, for vxlan, forwarding entries) and
// from the Services' endpoints.
func testNodeLeaving(t *testing.T, c *cluster, w *workload) {
	leaving := c.Nodes[len(c.Nodes)-1]
	cidrs := c.podCIDRs(t)
	gonePod := w.web[leaving.Name].Status.PodIP
	// The others route to it before it goes, or its going proves nothing.
	for i, n := range c.Nodes[:len(c.Nodes)-1] {
		ns := c.Hosts.NS(i)
		eventually(t, 10*time.Second, n.Name+" routes to "+leaving.Name+"'s pods", func() (string, bool) {
			routes, _ := c.Run(5*time.Second, ns, "ip", "route", "show", cidrs[leaving.Name])
			return routes, strings.TrimSpace(routes) != ""
		})
	}
	if err := leaving.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := c.kubectl("", "delete", "node", leaving.Name); err != nil {
		t.Fatalf("kubectl delete node: %v\n%s%s", err, out, errOut)
	}
	deleted := time.Now()
	for i, n := range c.Nodes[:len(c.Nodes)-1] {
		ns := c.Hosts.NS(i)
		eventually(t, 10*time.Second, n.Name+" forgets "+leaving.Name, func() (string, bool) {
			routes, _ := c.Run(5*time.Second, ns, "ip", "route", "show", cidrs[leaving.Name])
			fdb, _ := c.Run(5*time.Second, ns, "bridge", "fdb", "show")
			return "routes: " + routes + "fdb: " + fdb,
				strings.TrimSpace(routes) == "" && !strings.Contains(fdb, "dst "+leaving.IP+" ")
		})
	}
	t.Logf("routes to %s gone %s after its Node was deleted", leaving.Name, time.Since(deleted).Round(time.Millisecond))
	eventually(t, 2*time.Minute, "the leaving node's pod "+gonePod+" out of web's endpoints", func() (string, bool) {
		out, errOut, err := w.ns.run("", "get", "endpointslices", "-l", "kubernetes.io/service-name=web",
			"-o", "jsonpath={.items[*].endpoints[*].addresses[*]}")
		return out + errOut, err == nil && !strings.Contains(" "+out+" ", " "+gonePod+" ")
	})
	t.Logf("its endpoints gone %s after", time.Since(deleted).Round(time.Millisecond))
	// The Service still answers from what is left.
	names, err := w.fetch(c.Nodes[0].Name, "http://"+w.svc.Spec.ClusterIP+"/", 10)
	if err != nil || slicesContainsEmpty(names) {
		t.Errorf("the web Service after %s left: %v %v", leaving.Name, names, err)
	}
}

func slicesContainsEmpty(names []string) bool {
	for _, n := range names {
		if n == "" {
			return true
		}
	}
	return false
}

func internalIP(n *corev1.Node) string {
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			return a.Address
		}
	}
	return ""
}

// flip changes the i-th character of s to another of its kind.
func flip(s string, i int) string {
	b := []byte(s)
	switch {
	case b[i] == '0':
		b[i] = '1'
	case b[i] >= '0' && b[i] <= '9':
		b[i] = '0'
	case b[i] == 'a':
		b[i] = 'b'
	default:
		b[i] = 'a'
	}
	return string(b)
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
