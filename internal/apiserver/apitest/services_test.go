package apitest

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/store"
)

// Test IP plan for allocation: the default service CIDR 10.43.0.0/16 (the
// kubernetes Service at 10.43.0.1), node ports 30000-32767; explicit
// requests use 10.43.0.50-10.43.0.59 and node ports 30080-30089.
const (
	kubernetesClusterIP = "10.43.0.1"
	dryRunClusterIP     = "10.43.0.50"
	reusedClusterIP     = "10.43.0.51"
	outOfRangeClusterIP = "10.44.0.1"
)

var allocatedIP = regexp.MustCompile(`^10\.43\.\d+\.\d+$`)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ts *testServer) svcField(name, jsonpath string) string {
	ts.t.Helper()
	return ts.kubectl("get", "svc", name, "-o", "jsonpath="+jsonpath)
}

func TestServiceAllocation(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	svcs := ts.client().CoreV1().Services("default")

	// kubectl create service: a cluster IP from the range.
	mustContain(t, ts.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080"), `^service/web created\n$`)
	webIP := ts.svcField("web", "{.spec.clusterIP}")
	if !allocatedIP.MatchString(webIP) || webIP == kubernetesClusterIP {
		t.Fatalf("web's cluster IP %q", webIP)
	}
	mustContain(t, ts.svcField("web", "{.spec.clusterIPs}"), `^\["`+regexp.QuoteMeta(webIP)+`"\]$`)
	mustContain(t, ts.kubectl("get", "svc"),
		`(?m)^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$`,
		`(?m)^web\s+ClusterIP\s+`+regexp.QuoteMeta(webIP)+`\s+<none>\s+80/TCP\s+\d+s$`)

	// kubectl expose: a NodePort service with a node port from the range.
	ts.kubectl("create", "deployment", "api", "--image=nginx", "--port=8080")
	mustContain(t, ts.kubectl("expose", "deployment", "api", "--port=80", "--target-port=8080", "--type=NodePort"),
		`^service/api exposed\n$`)
	mustContain(t, ts.kubectl("get", "svc", "api"), `(?m)^api\s+NodePort\s+10\.43\.\d+\.\d+\s+<none>\s+80:3\d{4}/TCP\s+\d+s$`)

	// Node ports asked for by number; a clash and a port out of range are
	// refused with upstream's messages.
	nodePortSvc := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"%s"},
		"spec":{"type":"NodePort","selector":{"app":"np"},"ports":[{"port":80,"nodePort":%s}]}}`
	if _, errOut, err := ts.createManifest(fmt.Sprintf(nodePortSvc, "np", "30080")); err != nil {
		t.Fatalf("nodePort 30080: %v\n%s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "svc", "np"), `(?m)^np\s+NodePort\s+10\.43\.\d+\.\d+\s+<none>\s+80:30080/TCP\s+\d+s$`)
	_, errOut, err := ts.createManifest(fmt.Sprintf(nodePortSvc, "clash", "30080"))
	if err == nil {
		t.Fatal("a taken node port was given twice")
	}
	mustContain(t, errOut, `The Service "clash" is invalid: spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated`)
	_, errOut, _ = ts.createManifest(fmt.Sprintf(nodePortSvc, "low", "8080"))
	mustContain(t, errOut, `spec\.ports\[0\]\.nodePort: Invalid value: 8080: provided port is not in the valid range\. The range of valid ports is 30000-32767`)

	// Cluster IPs asked for: taken, out of range.
	errOut = ts.kubectlFails("create", "service", "clusterip", "dup", "--tcp=80", "--clusterip="+webIP)
	mustContain(t, errOut, `Service "dup" is invalid: spec\.clusterIPs: Invalid value: \["`+regexp.QuoteMeta(webIP)+
		`"\]: failed to allocate IP `+regexp.QuoteMeta(webIP)+`: provided IP is already allocated`)
	errOut = ts.kubectlFails("create", "service", "clusterip", "far", "--tcp=80", "--clusterip="+outOfRangeClusterIP)
	mustContain(t, errOut, `failed to allocate IP 10\.44\.0\.1: the provided IP \(10\.44\.0\.1\) is not in the valid range\. The range of valid IPs is 10\.43\.0\.0/16`)

	// A dry run shows the IP and keeps nothing.
	mustContain(t, ts.kubectl("create", "service", "clusterip", "dry", "--tcp=80", "--clusterip="+dryRunClusterIP,
		"--dry-run=server", "-o", "jsonpath={.spec.clusterIP}"), `^`+regexp.QuoteMeta(dryRunClusterIP)+`$`)
	dry, err := svcs.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dry"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}},
		metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil || !allocatedIP.MatchString(dry.Spec.ClusterIP) || dry.Spec.Ports[0].NodePort == 0 {
		t.Fatalf("dry-run create: %v %+v", err, dry)
	}
	mustContain(t, ts.kubectl("create", "service", "clusterip", "dry", "--tcp=80", "--clusterip="+dryRunClusterIP), `^service/dry created\n$`)

	// LoadBalancer: node ports, and a health-check port for traffic kept
	// local; headless and ExternalName: no cluster IP.
	mustContain(t, ts.kubectl("create", "service", "loadbalancer", "lb", "--tcp=443:8443"), `^service/lb created\n$`)
	mustContain(t, ts.kubectl("get", "svc", "lb"), `(?m)^lb\s+LoadBalancer\s+10\.43\.\d+\.\d+\s+<pending>\s+443:3\d{4}/TCP\s+\d+s$`)
	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"local"},
		"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","selector":{"app":"lb"},"ports":[{"port":80}]}}`); err != nil {
		t.Fatalf("local: %v\n%s", err, errOut)
	}
	mustContain(t, ts.svcField("local", "{.spec.healthCheckNodePort} {.spec.ports[0].nodePort}"), `^3\d{4} 3\d{4}$`)
	ts.kubectl("create", "service", "clusterip", "hl", "--clusterip=None", "--tcp=80")
	ts.kubectl("create", "service", "externalname", "ext", "--external-name=db.example.com")
	mustContain(t, ts.kubectl("get", "svc", "hl", "ext"),
		`(?m)^hl\s+ClusterIP\s+None\s+<none>\s+80/TCP\s+\d+s$`,
		`(?m)^ext\s+ExternalName\s+<none>\s+db\.example\.com\s+<none>\s+\d+s$`)

	// Type changes: ClusterIP -> NodePort allocates a node port, NodePort ->
	// ClusterIP releases it (so another service may ask for it), ->
	// ExternalName releases the IP.
	ts.kubectl("patch", "svc", "web", "-p", `{"spec":{"type":"NodePort"}}`)
	webNodePort := ts.svcField("web", "{.spec.ports[0].nodePort}")
	mustContain(t, webNodePort, `^3\d{4}$`)
	mustContain(t, ts.svcField("web", "{.spec.clusterIP}"), `^`+regexp.QuoteMeta(webIP)+`$`)
	ts.kubectl("patch", "svc", "web", "-p", `{"spec":{"type":"ClusterIP"}}`)
	mustContain(t, ts.kubectl("get", "svc", "web"), `(?m)^web\s+ClusterIP\s+`+regexp.QuoteMeta(webIP)+`\s+<none>\s+80/TCP\s+\d+s$`)
	if _, errOut, err := ts.createManifest(fmt.Sprintf(nodePortSvc, "takeover", webNodePort)); err != nil {
		t.Fatalf("released node port %s: %v\n%s", webNodePort, err, errOut)
	}
	ts.kubectl("patch", "svc", "web", "-p", `{"spec":{"type":"ExternalName","externalName":"web.example.com"}}`)
	mustContain(t, ts.kubectl("create", "service", "clusterip", "web2", "--tcp=80", "--clusterip="+webIP), `^service/web2 created\n$`)
	ts.kubectl("patch", "svc", "ext", "-p", `{"spec":{"type":"ClusterIP","externalName":null,"ports":[{"port":80}]}}`)
	mustContain(t, ts.svcField("ext", "{.spec.clusterIP}"), allocatedIP.String())

	// Delete, then re-create asking for the same IP; the Service's
	// Endpoints go with it.
	mustContain(t, ts.kubectl("create", "service", "clusterip", "old", "--tcp=80", "--clusterip="+reusedClusterIP), `^service/old created\n$`)
	if _, errOut, err := ts.createManifest(`{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"old"},
		"subsets":[{"addresses":[{"ip":"10.42.0.5"}],"ports":[{"port":80}]}]}`); err != nil {
		t.Fatalf("endpoints: %v\n%s", err, errOut)
	}
	ts.kubectl("delete", "svc", "old")
	mustContain(t, ts.kubectlFails("get", "endpoints", "old"), `endpoints "old" not found`)
	mustContain(t, ts.kubectl("create", "service", "clusterip", "new", "--tcp=80", "--clusterip="+reusedClusterIP), `^service/new created\n$`)

	// Services deleted with their namespace give their addresses back.
	ts.kubectl("create", "namespace", "team")
	ts.kubectl("create", "-n", "team", "service", "nodeport", "gone", "--tcp=80", "--node-port=30081")
	ts.kubectl("delete", "-n", "team", "svc", "--all")
	if _, errOut, err := ts.createManifest(fmt.Sprintf(nodePortSvc, "reuse", "30081")); err != nil {
		t.Fatalf("node port of a deleted service: %v\n%s", err, errOut)
	}
}

// The kubernetes Service is there from the start: the first address of
// the service CIDR, https 443 to the API's port, and endpoints at the
// advertise address (127.0.0.1 by default).
func TestKubernetesService(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	c := ts.client()
	waitFor(t, "the kubernetes endpoint slice", func() bool {
		_, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil
	})
	_, port, _ := net.SplitHostPort(ts.addr)
	mustContain(t, ts.kubectl("get", "svc", "kubernetes"),
		`(?m)^kubernetes\s+ClusterIP\s+10\.43\.0\.1\s+<none>\s+443/TCP\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "svc", "kubernetes", "-o",
		"jsonpath={.metadata.labels.component} {.metadata.labels.provider} {.spec.ports[0].name} {.spec.ports[0].targetPort} {.spec.sessionAffinity} {.spec.ipFamilyPolicy}"),
		`^apiserver kubernetes https `+port+` None SingleStack$`)
	mustContain(t, ts.kubectl("get", "endpoints", "kubernetes"), `(?m)^kubernetes\s+127\.0\.0\.1:`+port+`\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "endpoints", "kubernetes", "-o", `jsonpath={.metadata.labels.endpointslice\.kubernetes\.io/skip-mirror} {.subsets[0].ports[0].name}`),
		`^true https$`)
	mustContain(t, ts.kubectl("get", "endpointslices", "kubernetes"), `(?m)^kubernetes\s+IPv4\s+`+port+`\s+127\.0\.0\.1\s+\d+s$`)
	slice, err := c.DiscoveryV1().EndpointSlices("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if slice.Labels[discoveryv1.LabelServiceName] != "kubernetes" || len(slice.Labels) != 1 ||
		len(slice.Endpoints) != 1 || slice.Endpoints[0].Conditions.Ready == nil || !*slice.Endpoints[0].Conditions.Ready ||
		*slice.Ports[0].Name != "https" || *slice.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("endpoint slice: %+v", slice)
	}
	svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || len(svc.ManagedFields) != 1 || svc.ManagedFields[0].Manager != "kube-apiserver" {
		t.Fatalf("kubernetes service: %v %+v", err, svc.ManagedFields)
	}
	// Its address is taken like any other.
	mustContain(t, ts.kubectlFails("create", "service", "clusterip", "imposter", "--tcp=80", "--clusterip="+kubernetesClusterIP),
		`failed to allocate IP 10\.43\.0\.1: provided IP is already allocated`)
}

// Allocations survive a restart of the API on the same store: the
// allocators are rebuilt from the stored Services before it serves.
func TestServiceAllocationsSurviveRestart(t *testing.T) {
	ts := startServer(t, store.Config{})
	ctx := context.Background()
	ts.kubectl("create", "service", "nodeport", "np", "--tcp=80", "--node-port=30082")
	ip := ts.svcField("np", "{.spec.clusterIP}")
	waitFor(t, "the kubernetes service", func() bool {
		_, err := ts.client().CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil
	})
	kubeRV := ts.svcField("kubernetes", "{.metadata.resourceVersion}")

	ts.stopAPI()
	ts.addr, ts.stopAPI = ts.runAPI("127.0.0.1:0")
	ts.kubeconfig = ts.writeKubeconfig("admin", "system:admin", "system:masters")

	mustContain(t, ts.kubectlFails("create", "service", "clusterip", "dup", "--tcp=80", "--clusterip="+ip),
		`failed to allocate IP `+regexp.QuoteMeta(ip)+`: provided IP is already allocated`)
	mustContain(t, ts.kubectlFails("create", "service", "nodeport", "dup", "--tcp=80", "--node-port=30082"),
		`spec\.ports\[0\]\.nodePort: Invalid value: 30082: provided port is already allocated`)
	mustContain(t, ts.kubectlFails("create", "service", "clusterip", "dup", "--tcp=80", "--clusterip="+kubernetesClusterIP),
		`provided IP is already allocated`)
	// Released after the restart, free again.
	ts.kubectl("delete", "svc", "np")
	mustContain(t, ts.kubectl("create", "service", "nodeport", "np2", "--tcp=80", "--node-port=30082"), `^service/np2 created\n$`)

	// The restarted API listens elsewhere: the kubernetes Service's target
	// port and endpoints follow; the Service itself is not re-created.
	_, port, _ := net.SplitHostPort(ts.addr)
	waitFor(t, "the kubernetes endpoints on the new port", func() bool {
		ep, err := ts.client().CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && len(ep.Subsets) == 1 && len(ep.Subsets[0].Ports) == 1 &&
			strconv.Itoa(int(ep.Subsets[0].Ports[0].Port)) == port
	})
	waitFor(t, "the kubernetes service's target port", func() bool {
		svc, err := ts.client().CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		return err == nil && svc.Spec.Ports[0].TargetPort.String() == port
	})
	mustContain(t, ts.svcField("kubernetes", "{.spec.clusterIP} {.metadata.uid}"), `^10\.43\.0\.1 `)
	if rv := ts.svcField("kubernetes", "{.metadata.resourceVersion}"); rv == kubeRV {
		t.Errorf("kubernetes service not updated for the new port (rv %s)", rv)
	}
}
