package multinodetest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// testNS is one test's namespace in a cluster; kubectl runs in it.
type testNS struct {
	t    *testing.T
	c    *cluster
	Name string
}

// namespace makes a namespace named after the test (deleted when it
// ends); on failure its pods and events are logged first.
func (c *cluster) namespace(t *testing.T) *testNS {
	t.Helper()
	name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	k := &testNS{t: t, c: c, Name: name}
	if out, errOut, err := c.kubectl("", "create", "namespace", name); err != nil {
		t.Fatalf("creating namespace %s: %v\n%s%s", name, err, out, errOut)
	}
	t.Cleanup(func() { c.kubectl("", "delete", "namespace", name, "--wait=false") })
	t.Cleanup(func() {
		if t.Failed() {
			for _, args := range [][]string{{"get", "pods,svc,endpointslices", "-o", "wide"}, {"get", "events", "--sort-by=.lastTimestamp"}} {
				out, errOut, _ := k.run("", args...)
				t.Logf("kubectl %s:\n%s%s", strings.Join(args, " "), out, errOut)
			}
		}
	})
	// Pods need the namespace's default ServiceAccount, which its
	// controller makes.
	eventually(t, 30*time.Second, "the default ServiceAccount", func() (string, bool) {
		out, errOut, err := k.run("", "get", "serviceaccount", "default", "-o", "name")
		return out + errOut, err == nil
	})
	return k
}

// run runs kubectl in the namespace with stdin.
func (k *testNS) run(stdin string, args ...string) (string, string, error) {
	return k.c.kubectl(stdin, append([]string{"-n", k.Name}, args...)...)
}

// kubectl runs kubectl in the namespace and fails the test if it fails.
func (k *testNS) kubectl(args ...string) string {
	k.t.Helper()
	out, errOut, err := k.run("", args...)
	if err != nil {
		k.t.Fatalf("kubectl %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// apply applies a manifest in the namespace.
func (k *testNS) apply(manifest string) {
	k.t.Helper()
	if out, errOut, err := k.run(manifest, "apply", "-f", "-"); err != nil {
		k.t.Fatalf("kubectl apply: %v\n%s%s\n%s", err, out, errOut, manifest)
	}
}

// exec runs a command in a pod's first container.
func (k *testNS) exec(pod string, argv ...string) (string, error) {
	out, errOut, err := k.c.Kubectl(2*time.Minute, "", append([]string{"-n", k.Name, "exec", pod, "--"}, argv...)...)
	if err != nil {
		return out + errOut, fmt.Errorf("kubectl exec %s -- %s: %w", pod, strings.Join(argv, " "), err)
	}
	return out, nil
}

// get reads one object into v.
func (k *testNS) get(object string, v any) {
	k.t.Helper()
	if err := json.Unmarshal([]byte(k.kubectl("get", object, "-o", "json")), v); err != nil {
		k.t.Fatalf("decoding %s: %v", object, err)
	}
}

// pods lists the namespace's pods matching a label selector.
func (k *testNS) pods(selector string) []corev1.Pod {
	k.t.Helper()
	var list corev1.PodList
	if err := json.Unmarshal([]byte(k.kubectl("get", "pods", "-l", selector, "-o", "json")), &list); err != nil {
		k.t.Fatal(err)
	}
	return list.Items
}

// waitPodsReady waits until count pods match selector and all are Ready.
func (k *testNS) waitPodsReady(selector string, count int, timeout time.Duration) []corev1.Pod {
	k.t.Helper()
	var pods []corev1.Pod
	eventually(k.t, timeout, fmt.Sprintf("%d Ready pods %s", count, selector), func() (string, bool) {
		pods = k.pods(selector)
		var b strings.Builder
		ready := 0
		for _, p := range pods {
			fmt.Fprintf(&b, "%s on %s: %s ready=%v; ", p.Name, p.Spec.NodeName, p.Status.Phase, podReady(&p))
			if podReady(&p) && p.DeletionTimestamp == nil {
				ready++
			}
		}
		return b.String(), ready == count && len(pods) == count
	})
	return pods
}

// waitPodReady waits until the named pod is Ready and returns it.
func (k *testNS) waitPodReady(name string, timeout time.Duration) corev1.Pod {
	k.t.Helper()
	var p corev1.Pod
	eventually(k.t, timeout, "pod "+name+" Ready", func() (string, bool) {
		out, errOut, err := k.run("", "get", "pod", name, "-o", "json")
		if err != nil || json.Unmarshal([]byte(out), &p) != nil {
			return errOut, false
		}
		return fmt.Sprintf("%s ready=%v %+v", p.Status.Phase, podReady(&p), p.Status.ContainerStatuses), podReady(&p)
	})
	return p
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// eventually polls f until it says done, and fails t with f's last
// report after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, f func() (string, bool)) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		report, done := f()
		if done {
			return report
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s; last:\n%s", what, timeout, report)
		}
		time.Sleep(200 * time.Millisecond) // polling a condition, not waiting for it
	}
}

// wget is the argv, in a busybox pod, fetching url with a short timeout.
// busybox 1.35's own wget -T crashes (SIGSEGV), so timeout bounds it.
func wget(url string) []string {
	return []string{"timeout", "3", "wget", "-q", "-O-", url}
}

// hostWget is wget for a harness host, which has busybox but no applet
// links.
func hostWget(url string) []string {
	return []string{"/bin/busybox", "timeout", "3", "/bin/busybox", "wget", "-q", "-O-", url}
}

// hostnameOf is the pod name from httpapp's "v1 <hostname>" answer.
func hostnameOf(answer string) string {
	f := strings.Fields(answer)
	if len(f) != 2 || f[0] != "v1" {
		return ""
	}
	return f[1]
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
