package multinodetest

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// testOverlayState checks what the backend programmed on each host for
// every other node: vxlan a VXLAN device (VNI 1, UDP 8472, MTU of the
// underlay less 50) and a route per remote pod CIDR through it; host-gw
// a route per remote pod CIDR via that node's address.
func testOverlayState(t *testing.T, c *cluster) {
	cidrs := c.podCIDRs(t)
	for i, n := range c.Nodes {
		ns := c.Hosts.NS(i)
		if c.Spec.Backend == "vxlan" {
			out, err := c.Run(10*time.Second, ns, "ip", "-d", "-o", "link", "show", "type", "vxlan")
			if err != nil {
				t.Fatalf("%s: ip link: %v\n%s", n.Name, err, out)
			}
			for _, want := range []string{`vxlan id 1 `, `dstport 8472`, `mtu 1450 `} {
				if !strings.Contains(out, want) {
					t.Errorf("%s: no VXLAN device with %q:\n%s", n.Name, want, out)
				}
			}
		}
		for j, other := range c.Nodes {
			if j == i {
				continue
			}
			eventually(t, 10*time.Second, fmt.Sprintf("%s: route to %s's pods %s", n.Name, other.Name, cidrs[other.Name]), func() (string, bool) {
				out, err := c.Run(10*time.Second, ns, "ip", "route", "show", cidrs[other.Name])
				if err != nil || strings.TrimSpace(out) == "" {
					return out, false
				}
				if c.Spec.Backend == "host-gw" {
					return out, strings.Contains(out, "via "+other.IP+" dev eth0")
				}
				return out, !strings.Contains(out, "dev eth0")
			})
		}
	}
}

// podCIDRs are the nodes' spec.podCIDR by name; each is set.
func (c *cluster) podCIDRs(t *testing.T) map[string]string {
	t.Helper()
	var list corev1.NodeList
	getJSON(t, c, &list, "get", "nodes", "-o", "json")
	out := map[string]string{}
	for _, n := range list.Items {
		if _, err := netip.ParsePrefix(n.Spec.PodCIDR); err != nil {
			t.Fatalf("node %s has podCIDR %q: %v", n.Name, n.Spec.PodCIDR, err)
		}
		out[n.Name] = n.Spec.PodCIDR
	}
	return out
}

// testPodToPod: every tools pod reaches every other node's web pod at its
// pod IP, and every host reaches the other nodes' pods.
func testPodToPod(t *testing.T, c *cluster, w *workload) {
	for _, from := range c.Nodes {
		for _, to := range c.Nodes {
			if from == to {
				continue
			}
			target := w.web[to.Name]
			url := fmt.Sprintf("http://%s:8080/", target.Status.PodIP)
			eventually(t, 20*time.Second, fmt.Sprintf("pod on %s to pod %s on %s", from.Name, target.Name, to.Name), func() (string, bool) {
				names, err := w.fetch(from.Name, url, 1)
				if err != nil {
					return err.Error(), false
				}
				return fmt.Sprintf("%q", names), len(names) == 1 && names[0] == target.Name
			})
			out, err := c.Run(10*time.Second, c.Hosts.NS(from.Host), hostWget(url)...)
			if err != nil || hostnameOf(out) != target.Name {
				t.Errorf("host %s to pod %s on %s: %v %q", from.Name, target.Name, to.Name, err, out)
			}
		}
	}
}

// testClusterIP: from each node, requests to the web Service's cluster IP
// reach the web pods of every node, the other nodes' included.
func testClusterIP(t *testing.T, c *cluster, w *workload) {
	url := fmt.Sprintf("http://%s/", w.svc.Spec.ClusterIP)
	for _, from := range c.Nodes {
		eventually(t, 30*time.Second, "requests to the cluster IP from "+from.Name+" reach every web pod", func() (string, bool) {
			names, err := w.fetch(from.Name, url, 30)
			if err != nil {
				return err.Error(), false
			}
			return fmt.Sprintf("%q", distinct(names)), slices.Equal(distinct(names), w.webNames())
		})
	}
	// By name too, through the cluster DNS.
	names, err := w.fetch(c.Nodes[0].Name, "http://web."+w.ns.Name+".svc.cluster.local/", 1)
	if err != nil || len(names) != 1 || !slices.Contains(w.webNames(), names[0]) {
		t.Errorf("web.%s.svc.cluster.local from %s: %v %v", w.ns.Name, c.Nodes[0].Name, names, err)
	}
}

// testNodePort: the outside client reaches a NodePort Service on every
// node's address.
func testNodePort(t *testing.T, c *cluster, w *workload) {
	w.ns.apply(`apiVersion: v1
kind: Service
metadata:
  name: web-np
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`)
	var svc corev1.Service
	w.ns.get("service/web-np", &svc)
	port := svc.Spec.Ports[0].NodePort
	if port < 30000 || port > 32767 {
		t.Fatalf("nodePort %d, want one in 30000-32767", port)
	}
	for _, n := range c.Nodes {
		url := fmt.Sprintf("http://%s:%d/", n.IP, port)
		eventually(t, 30*time.Second, "outside client to "+url, func() (string, bool) {
			out, err := c.Run(10*time.Second, c.Hosts.ClientNS(), hostWget(url)...)
			return fmt.Sprint(out, err), err == nil && slices.Contains(w.webNames(), hostnameOf(out))
		})
	}
}

// testLoadBalancer: a LoadBalancer Service gets an address from --lb-pool
// in its status, which the outside client reaches.
func testLoadBalancer(t *testing.T, c *cluster, w *workload) {
	w.ns.apply(`apiVersion: v1
kind: Service
metadata:
  name: web-lb
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`)
	var ip string
	eventually(t, 30*time.Second, "web-lb's status.loadBalancer.ingress", func() (string, bool) {
		var svc corev1.Service
		w.ns.get("service/web-lb", &svc)
		if len(svc.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Sprintf("%+v", svc.Status), false
		}
		ip = svc.Status.LoadBalancer.Ingress[0].IP
		return ip, ip != ""
	})
	pool := regexp.MustCompile(`^` + regexp.QuoteMeta(c.Hosts.Net) + `\.10[0-9]$`)
	if !pool.MatchString(ip) {
		t.Errorf("web-lb got %s, want an address of --lb-pool %s-%s", ip, c.Hosts.PoolAddr(0), c.Hosts.PoolAddr(9))
	}
	url := "http://" + ip + "/"
	eventually(t, 30*time.Second, "outside client to "+url, func() (string, bool) {
		out, err := c.Run(10*time.Second, c.Hosts.ClientNS(), hostWget(url)...)
		return fmt.Sprint(out, err), err == nil && slices.Contains(w.webNames(), hostnameOf(out))
	})
}

// testSessionAffinity: with sessionAffinity ClientIP, one client's
// requests all go to one pod, from pods and from outside by NodePort.
func testSessionAffinity(t *testing.T, c *cluster, w *workload) {
	w.ns.apply(`apiVersion: v1
kind: Service
metadata:
  name: sticky
spec:
  type: NodePort
  selector: {app: web}
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP: {timeoutSeconds: 60}
  ports:
  - {name: http, port: 80, targetPort: http}
`)
	var svc corev1.Service
	w.ns.get("service/sticky", &svc)
	url := fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)
	for _, from := range c.Nodes {
		var names []string
		eventually(t, 30*time.Second, "the sticky Service answering from "+from.Name, func() (string, bool) {
			var err error
			names, err = w.fetch(from.Name, url, 1)
			return fmt.Sprint(names, err), err == nil && names[0] != ""
		})
		names, err := w.fetch(from.Name, url, 20)
		if err != nil {
			t.Fatal(err)
		}
		if d := distinct(names); len(d) != 1 || d[0] == "" {
			t.Errorf("20 requests from the tools pod on %s went to %v, want one pod", from.Name, d)
		}
	}
	nodePortURL := fmt.Sprintf("http://%s:%d/", c.Nodes[0].IP, svc.Spec.Ports[0].NodePort)
	script := fmt.Sprintf("for i in $(seq 20); do /bin/busybox timeout 2 /bin/busybox wget -q -O- %s || echo fail; done", nodePortURL)
	out, err := c.Run(time.Minute, c.Hosts.ClientNS(), "sh", "-c", script)
	if err != nil {
		t.Fatalf("outside client: %v\n%s", err, out)
	}
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		names = append(names, hostnameOf(l))
	}
	if d := distinct(names); len(d) != 1 || d[0] == "" {
		t.Errorf("20 requests from outside to %s went to %v, want one pod", nodePortURL, d)
	}
}

// testReadyEndpoints is the seeds' readiness example: pods whose
// readiness probe wants /test.html get traffic only once the file is
// there, and lose it when it goes; a Service with no ready endpoint
// rejects connections.
func testReadyEndpoints(t *testing.T, c *cluster, w *workload) {
	k := c.namespace(t)
	pod := func(name, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  labels: {test: liveness}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: liveness
    image: %s
    imagePullPolicy: IfNotPresent
    livenessProbe:
      tcpSocket: {port: 8080}
      initialDelaySeconds: 2
      periodSeconds: 3
      timeoutSeconds: 1
    readinessProbe:
      httpGet: {path: /test.html, port: 8080}
      periodSeconds: 1
      timeoutSeconds: 1
`, name, node, httpAppImage)
	}
	// Two pods on nodes other than the client's, so that traffic crosses.
	a, b := c.Nodes[len(c.Nodes)-1].Name, c.Nodes[1%len(c.Nodes)].Name
	k.apply(pod("liveness-http-a", a) + "---\n" + pod("liveness-http-b", b) + `---
apiVersion: v1
kind: Service
metadata:
  name: myservice
spec:
  selector: {test: liveness}
  ports:
  - {protocol: TCP, port: 80, targetPort: 8080}
`)
	var svc corev1.Service
	k.get("service/myservice", &svc)
	url := fmt.Sprintf("http://%s/", svc.Spec.ClusterIP)
	client := c.Nodes[0].Name
	eventually(t, time.Minute, "both pods Running, neither Ready", func() (string, bool) {
		pods := k.pods("test=liveness")
		running := 0
		for _, p := range pods {
			if p.Status.Phase == corev1.PodRunning && !podReady(&p) {
				running++
			}
		}
		return fmt.Sprint(len(pods), " pods, running unready: ", running), running == 2
	})
	names, err := w.fetch(client, url, 3)
	if err != nil {
		t.Fatal(err)
	}
	if d := distinct(names); len(d) != 1 || d[0] != "" {
		t.Errorf("requests to a Service with no ready endpoint answered by %v, want all refused", d)
	}
	ready := func(pod string, yes bool) {
		cmd := "mkdir -p /www && echo ok > /www/test.html"
		if !yes {
			cmd = "rm -f /www/test.html"
		}
		if out, err := k.exec(pod, "sh", "-c", cmd); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	onlyTo := func(pod string) {
		t.Helper()
		eventually(t, 30*time.Second, "every request to myservice answered by "+pod, func() (string, bool) {
			names, err := w.fetch(client, url, 10)
			if err != nil {
				return err.Error(), false
			}
			d := distinct(names)
			return fmt.Sprint(d), len(d) == 1 && d[0] == pod
		})
	}
	ready("liveness-http-a", true)
	k.waitPodReady("liveness-http-a", 30*time.Second)
	onlyTo("liveness-http-a")
	ready("liveness-http-b", true)
	ready("liveness-http-a", false)
	k.waitPodReady("liveness-http-b", 30*time.Second)
	onlyTo("liveness-http-b")
}

// getJSON runs kubectl with args and decodes its output into v.
func getJSON(t *testing.T, c *cluster, v any, args ...string) {
	t.Helper()
	out, errOut, err := c.kubectl("", args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	if err := jsonUnmarshal(out, v); err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
}
