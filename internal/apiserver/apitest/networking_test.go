package apitest

import (
	"context"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"mini.dev/mini/internal/store"
)

// createManifest runs `kubectl create -f - --validate=false` with manifest
// on stdin and returns stdout, stderr and the exit error.
func (ts *testServer) createManifest(manifest string) (string, string, error) {
	ts.t.Helper()
	return ts.kubectlAs(ts.kubeconfig, manifest, "create", "-f", "-", "--validate=false")
}

func TestKubectlIngresses(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources", "--api-group=networking.k8s.io"),
		`(?m)^ingressclasses\s+networking.k8s.io/v1\s+false\s+IngressClass$`,
		`(?m)^ingresses\s+ing\s+networking.k8s.io/v1\s+true\s+Ingress$`,
		`(?m)^networkpolicies\s+netpol\s+networking.k8s.io/v1\s+true\s+NetworkPolicy$`)

	// kubectl create ingress writes pathType Exact for "/" and Prefix for "/api*".
	mustContain(t, ts.kubectl("create", "ingress", "web", "--class=nginx",
		"--rule=a.example/=web:80", "--rule=b.example/api*=api:http,tls=web-tls"), `^ingress.networking.k8s.io/web created\n$`)
	mustContain(t, ts.kubectl("get", "ing"),
		`(?m)^NAME\s+CLASS\s+HOSTS\s+ADDRESS\s+PORTS\s+AGE$`, `(?m)^web\s+nginx\s+a.example,b.example\s+80, 443\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "ing", "web", "-o", "jsonpath={.spec.rules[*].http.paths[*].pathType}"), `^Exact Prefix$`)
	mustContain(t, ts.kubectl("get", "ing", "web", "-o", "jsonpath={.metadata.generation}"), `^1$`)

	// The status subresource: the address appears, the generation stays;
	// a status written through the main resource is dropped.
	ctx := context.Background()
	ings := ts.client().NetworkingV1().Ingresses("default")
	ing, err := ings.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.7"}}
	if _, err := ings.UpdateStatus(ctx, ing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, ts.kubectl("get", "ing", "web", "-o", "wide"), `(?m)^web\s+nginx\s+a.example,b.example\s+10.0.0.7\s+80, 443\s+\d+s$`)
	mustContain(t, ts.kubectl("patch", "ing", "web", "--type=merge", "-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"10.9.9.9"}]}}}`),
		`patched \(no change\)`)
	ts.kubectl("patch", "ing", "web", "--type=json", "-p", `[{"op":"replace","path":"/spec/rules/0/host","value":"c.example"}]`)
	mustContain(t, ts.kubectl("get", "ing", "web", "-o", "jsonpath={.metadata.generation} {.status.loadBalancer.ingress[0].ip}"), `^2 10.0.0.7$`)
	_, err = ings.UpdateStatus(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{{Hostname: "10.1.1.1"}}}}}, metav1.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), `status.loadBalancer.ingress[0].hostname: Invalid value: "10.1.1.1": must be a DNS name, not an IP address`) {
		t.Fatalf("status with an IP for hostname: %v", err)
	}

	// Validation as upstream words it.
	_, errOut, err := ts.createManifest(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"nopath"},
"spec":{"rules":[{"http":{"paths":[{"path":"/","backend":{"service":{"name":"web","port":{"number":80}}}}]}}]}}`)
	if err == nil || !strings.Contains(errOut, `spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified`) {
		t.Fatalf("ingress without pathType: %v %s", err, errOut)
	}
	_, errOut, err = ts.createManifest(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{"name":"empty"},"spec":{}}`)
	if err == nil || !strings.Contains(errOut, "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified") {
		t.Fatalf("empty ingress: %v %s", err, errOut)
	}

	// Ingress classes are cluster-scoped; the controller never changes.
	_, errOut, err = ts.createManifest(`{"apiVersion":"networking.k8s.io/v1","kind":"IngressClass","metadata":{"name":"nginx"},
"spec":{"controller":"k8s.io/ingress-nginx","parameters":{"apiGroup":"k8s.example.com","kind":"IngressParameters","name":"external-lb"}}}`)
	if err != nil {
		t.Fatalf("ingress class: %v %s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "ingressclass"), `(?m)^NAME\s+CONTROLLER\s+PARAMETERS\s+AGE$`,
		`(?m)^nginx\s+k8s.io/ingress-nginx\s+IngressParameters.k8s.example.com/external-lb\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "ingressclass", "nginx", "-o", "jsonpath={.spec.parameters.scope}"), `^Cluster$`)
	mustContain(t, ts.kubectlFails("patch", "ingressclass", "nginx", "--type=merge", "-p", `{"spec":{"controller":"example.com/other"}}`),
		`spec.controller: Invalid value: "example.com/other": field is immutable`)
}

func TestKubectlNetworkPolicies(t *testing.T) {
	ts := startServer(t, store.Config{})
	_, errOut, err := ts.createManifest(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"db"},
"spec":{"podSelector":{"matchLabels":{"app":"db"}},
"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"web"}}}],"ports":[{"port":5432}]}],
"egress":[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]}}]}]}}`)
	if err != nil {
		t.Fatalf("network policy: %v %s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "netpol"), `(?m)^NAME\s+POD-SELECTOR\s+AGE$`, `(?m)^db\s+app=db\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "netpol", "db", "-o", "jsonpath={.spec.policyTypes} {.spec.ingress[0].ports[0].protocol}"),
		`^\["Ingress","Egress"\] TCP$`)

	_, errOut, err = ts.createManifest(`{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"bad"},
"spec":{"podSelector":{},"ingress":[{"from":[{}],"ports":[{"port":80,"endPort":70}]}]}}`)
	if err == nil || !strings.Contains(errOut, `spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `+"`port`") ||
		!strings.Contains(errOut, `spec.ingress[0].from[0]: Required value: must specify a peer`) {
		t.Fatalf("bad network policy: %v %s", err, errOut)
	}
	mustContain(t, ts.kubectl("get", "networkpolicies", "-A"), `(?m)^NAMESPACE\s+NAME\s+POD-SELECTOR\s+AGE$`, `(?m)^default\s+db\s+app=db`)
}

func TestKubectlRBACObjects(t *testing.T) {
	ts := startServer(t, store.Config{})
	mustContain(t, ts.kubectl("api-resources", "--api-group=rbac.authorization.k8s.io"),
		`(?m)^clusterrolebindings\s+rbac.authorization.k8s.io/v1\s+false\s+ClusterRoleBinding$`,
		`(?m)^clusterroles\s+rbac.authorization.k8s.io/v1\s+false\s+ClusterRole$`,
		`(?m)^rolebindings\s+rbac.authorization.k8s.io/v1\s+true\s+RoleBinding$`,
		`(?m)^roles\s+rbac.authorization.k8s.io/v1\s+true\s+Role$`)

	mustContain(t, ts.kubectl("create", "role", "cm-reader", "--verb=get,list", "--resource=configmaps"),
		`^role.rbac.authorization.k8s.io/cm-reader created\n$`)
	mustContain(t, ts.kubectl("get", "roles"), `(?m)^NAME\s+CREATED AT$`, `(?m)^cm-reader\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	mustContain(t, ts.kubectl("create", "rolebinding", "readers", "--role=cm-reader", "--user=alice", "--user=bob",
		"--group=devs", "--serviceaccount=default:ci"), `^rolebinding.rbac.authorization.k8s.io/readers created\n$`)
	mustContain(t, ts.kubectl("get", "rolebindings"), `(?m)^NAME\s+ROLE\s+AGE$`, `(?m)^readers\s+Role/cm-reader\s+\d+s$`)
	mustContain(t, ts.kubectl("get", "rolebinding", "readers", "-o", "wide"),
		`(?m)^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS$`, `(?m)^readers\s+Role/cm-reader\s+\d+s\s+alice, bob\s+devs\s+default/ci$`)
	mustContain(t, ts.kubectlFails("patch", "rolebinding", "readers", "--type=merge", "-p", `{"roleRef":{"name":"other"}}`),
		`roleRef: Invalid value: .*: cannot change roleRef`)

	mustContain(t, ts.kubectl("create", "clusterrole", "metrics", "--verb=get", "--non-resource-url=/metrics", "--non-resource-url=/healthz/*"),
		`^clusterrole.rbac.authorization.k8s.io/metrics created\n$`)
	mustContain(t, ts.kubectl("create", "clusterrole", "monitoring", "--aggregation-rule=rbac.example.com/aggregate-to-monitoring=true"),
		`created`)
	mustContain(t, ts.kubectl("get", "clusterrole", "monitoring", "-o", "jsonpath={.aggregationRule.clusterRoleSelectors[0].matchLabels}"),
		`^\{"rbac.example.com/aggregate-to-monitoring":"true"\}$`)
	mustContain(t, ts.kubectl("get", "clusterroles"), `(?m)^NAME\s+CREATED AT$`, `(?m)^metrics\s+\d{4}-`)
	mustContain(t, ts.kubectl("create", "clusterrolebinding", "prometheus", "--clusterrole=metrics", "--serviceaccount=monitoring:prometheus"),
		`created`)
	mustContain(t, ts.kubectl("get", "clusterrolebinding", "prometheus", "-o", "wide"),
		`(?m)^NAME\s+ROLE\s+AGE\s+USERS\s+GROUPS\s+SERVICEACCOUNTS$`, `(?m)^prometheus\s+ClusterRole/metrics\s+\d+s\s+monitoring/prometheus$`)
	mustContain(t, ts.kubectl("get", "clusterrolebinding", "prometheus", "-o", "jsonpath={.roleRef.apiGroup}"), `^rbac.authorization.k8s.io$`)

	// Validation as upstream words it.
	_, errOut, err := ts.createManifest(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"urls"},
"rules":[{"verbs":["get"],"nonResourceURLs":["/metrics"]},{"apiGroups":[""],"resources":["pods"]}]}`)
	if err == nil || !strings.Contains(errOut, `rules[0].nonResourceURLs: Invalid value: ["/metrics"]: namespaced rules cannot apply to non-resource URLs`) ||
		!strings.Contains(errOut, `rules[1].verbs: Required value: verbs must contain at least one value`) {
		t.Fatalf("bad role: %v %s", err, errOut)
	}
	_, errOut, err = ts.createManifest(`{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"bad"},
"roleRef":{"kind":"Role","name":"x"},"subjects":[{"kind":"ServiceAccount","name":"ci"}]}`)
	if err == nil || !strings.Contains(errOut, `roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"`) ||
		!strings.Contains(errOut, `subjects[0].namespace: Required value`) {
		t.Fatalf("bad cluster role binding: %v %s", err, errOut)
	}
}
