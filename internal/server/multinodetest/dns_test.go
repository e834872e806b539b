package multinodetest

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// testDNS asks the cluster DNS, with busybox's nslookup from a pod, for
// every kind of record it serves: A (the seeds' `nslookup myservice`
// by the search path, and by full name), AAAA (none in an IPv4 cluster,
// but no NXDOMAIN), A of a headless Service (its pods), hostname.subdomain
// of pods, SRV of named ports, PTR, CNAME of an ExternalName, NXDOMAIN,
// and names outside the cluster forwarded to the host's resolver; and a
// new Service is answered soon after it is made.
func testDNS(t *testing.T, c *cluster) {
	k := c.namespace(t)
	member := func(i int, node string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: member-%d
  labels: {app: member}
spec:
  hostname: m%d
  subdomain: hl
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: %s
    imagePullPolicy: IfNotPresent
    ports: [{name: http, containerPort: 8080}]
---
`, i, i, node, httpAppImage)
	}
	last := c.Nodes[len(c.Nodes)-1].Name
	k.apply(member(0, c.Nodes[0].Name) + member(1, last) + fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: dnsclient
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: tools
    image: busybox
    imagePullPolicy: IfNotPresent
    command: [sleep, "100000"]
---
apiVersion: v1
kind: Service
metadata:
  name: myservice
spec:
  selector: {app: member}
  ports:
  - {name: http, protocol: TCP, port: 80, targetPort: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: hl
spec:
  clusterIP: None
  selector: {app: member}
  ports:
  - {name: http, protocol: TCP, port: 8080}
---
apiVersion: v1
kind: Service
metadata:
  name: ext
spec:
  type: ExternalName
  externalName: %s
`, c.Nodes[1%len(c.Nodes)].Name, strings.TrimSuffix(upstreamName, ".")))
	var svc corev1.Service
	k.get("service/myservice", &svc)
	m0 := k.waitPodReady("member-0", time.Minute)
	m1 := k.waitPodReady("member-1", time.Minute)
	k.waitPodReady("dnsclient", time.Minute)
	zone := k.Name + ".svc.cluster.local"
	ip := regexp.QuoteMeta

	for _, tc := range []struct {
		Name  string
		args  []string
		want  []string // patterns the output matches
		avoid []string // patterns it must not match
	}{
		{"A by the search path (the seeds' nslookup myservice)", []string{"myservice"},
			[]string{`Name:\s+myservice\.` + ip(zone), `Address:\s+` + ip(svc.Spec.ClusterIP) + `\b`}, nil},
		{"A by full name", []string{"myservice." + zone},
			[]string{`Address:\s+` + ip(svc.Spec.ClusterIP) + `\b`}, nil},
		{"AAAA in an IPv4 cluster", []string{"-type=AAAA", "myservice." + zone},
			[]string{`Server:\s+\S+`}, []string{`NXDOMAIN`, `Address:\s+[0-9a-f:]*:`}},
		{"A of a headless Service", []string{"hl." + zone},
			[]string{`Address:\s+` + ip(m0.Status.PodIP) + `\b`, `Address:\s+` + ip(m1.Status.PodIP) + `\b`}, []string{ip(svc.Spec.ClusterIP)}},
		{"hostname.subdomain of a pod", []string{"m1.hl." + zone},
			[]string{`Address:\s+` + ip(m1.Status.PodIP) + `\b`}, []string{ip(m0.Status.PodIP) + `\b`}},
		{"SRV of a named port", []string{"-type=SRV", "_http._tcp.myservice." + zone},
			[]string{`service = \d+ \d+ 80 myservice\.` + ip(zone)}, nil},
		{"SRV of a headless Service's named port", []string{"-type=SRV", "_http._tcp.hl." + zone},
			[]string{`service = \d+ \d+ 8080 m0\.hl\.` + ip(zone), `service = \d+ \d+ 8080 m1\.hl\.` + ip(zone)}, nil},
		{"PTR of a cluster IP", []string{svc.Spec.ClusterIP},
			[]string{`name = myservice\.` + ip(zone)}, nil},
		{"PTR of a headless Service's pod", []string{m0.Status.PodIP},
			[]string{`name = m0\.hl\.` + ip(zone)}, nil},
		{"CNAME of an ExternalName Service", []string{"ext." + zone},
			[]string{`canonical name = ` + ip(strings.TrimSuffix(upstreamName, ".")), `Address:\s+` + ip(c.upstreamAddr()) + `\b`}, nil},
		{"NXDOMAIN for an unknown name in the zone", []string{"nope." + zone},
			[]string{`NXDOMAIN`}, nil},
		{"a name outside the cluster, forwarded", []string{strings.TrimSuffix(upstreamName, ".")},
			[]string{`Address:\s+` + ip(c.upstreamAddr()) + `\b`}, nil},
	} {
		t.Run(tc.Name, func(t *testing.T) {
			eventually(t, 15*time.Second, "nslookup "+strings.Join(tc.args, " "), func() (string, bool) {
				// nslookup exits 1 when a query type has no answer; the
				// output says what was found.
				out, _ := k.exec("dnsclient", append([]string{"nslookup"}, tc.args...)...)
				return out, matchesAll(out, tc.want) && matchesNone(out, tc.avoid)
			})
		})
	}

	// A Service made now is answered soon (the issue: within a second;
	// each try here costs a kubectl exec).
	k.apply(`apiVersion: v1
kind: Service
metadata:
  name: late
spec:
  selector: {app: member}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`)
	var late corev1.Service
	k.get("service/late", &late)
	made := time.Now()
	eventually(t, 10*time.Second, "nslookup late", func() (string, bool) {
		out, _ := k.exec("dnsclient", "nslookup", "late."+zone)
		return out, strings.Contains(out, late.Spec.ClusterIP)
	})
	t.Logf("a new Service answered by the cluster DNS %s after it was made (one kubectl exec costs about as much)", time.Since(made).Round(time.Millisecond))
}

// testInitContainerWaitsForService is the seeds' init container example:
// the pod's init container loops on `nslookup myservice...` until the
// Service exists; only then does the app start.
func testInitContainerWaitsForService(t *testing.T, c *cluster) {
	k := c.namespace(t)
	zone := k.Name + ".svc.cluster.local"
	k.apply(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels: {app: nginx}
spec:
  nodeName: %s
  terminationGracePeriodSeconds: 1
  containers:
  - name: nginx
    image: %s
    imagePullPolicy: IfNotPresent
  initContainers:
  - name: init-container
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["/bin/sh", "-c", "until nslookup myservice.%s; do echo waiting for myservice; sleep 1; done"]
`, c.Nodes[len(c.Nodes)-1].Name, httpAppImage, zone))
	// The init container has looped at least twice: the name is missing.
	eventually(t, time.Minute, "the init container waiting for myservice", func() (string, bool) {
		out, errOut, _ := k.run("", "logs", "nginx", "-c", "init-container")
		return out + errOut, strings.Count(out, "waiting for myservice") >= 2
	})
	var p corev1.Pod
	k.get("pod/nginx", &p)
	if p.Status.Phase != corev1.PodPending || len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil {
		t.Fatalf("the app runs before its init container is done: %s %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	k.apply(`apiVersion: v1
kind: Service
metadata:
  name: myservice
spec:
  ports:
  - {protocol: TCP, port: 80, targetPort: 80}
`)
	k.waitPodReady("nginx", time.Minute)
}

func matchesAll(s string, patterns []string) bool {
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(s) {
			return false
		}
	}
	return true
}

func matchesNone(s string, patterns []string) bool {
	for _, p := range patterns {
		if regexp.MustCompile(p).MatchString(s) {
			return false
		}
	}
	return true
}
