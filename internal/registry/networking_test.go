package registry

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// ingressPath is one HTTP path to service web:80.
func ingressPath(path string, pathType *networkingv1.PathType) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: path, PathType: pathType, Backend: serviceBackend("web", 80, "")}
}

func serviceBackend(name string, port int32, portName string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name,
		Port: networkingv1.ServiceBackendPort{Number: port, Name: portName}}}
}

func ingressWith(host string, paths ...networkingv1.HTTPIngressPath) *networkingv1.Ingress {
	return &networkingv1.Ingress{ObjectMeta: testMeta("web", "default"), Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}}}
}

func TestIngressValidation(t *testing.T) {
	prefix, exact, impl := ptr.To(networkingv1.PathTypePrefix), ptr.To(networkingv1.PathTypeExact), ptr.To(networkingv1.PathTypeImplementationSpecific)
	withClass := ingressWith("a.example", ingressPath("/", prefix))
	withClass.Spec.IngressClassName = ptr.To("nginx")
	withClass.Annotations = map[string]string{annotationIngressClass: "traefik"}
	tls := ingressWith("a.example", ingressPath("/", prefix))
	tls.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.example", "a..b"}, SecretName: "Bad_Secret"}}
	both := ingressWith("", ingressPath("/", prefix))
	both.Spec.Rules[0].HTTP.Paths[0].Backend.Resource = &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}
	resource := &networkingv1.Ingress{ObjectMeta: testMeta("web", "default"), Spec: networkingv1.IngressSpec{
		DefaultBackend: &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("x.io")}}}}
	oldRelaxed := ingressWith("", networkingv1.HTTPIngressPath{Path: "/", PathType: prefix, Backend: serviceBackend("1web", 80, "")})

	runValidation(t, Ingresses(), []validationCase{
		{name: "valid", obj: ingressWith("a.example", ingressPath("/", prefix), ingressPath("/x", exact), ingressPath("", impl))},
		{name: "default backend only", obj: &networkingv1.Ingress{ObjectMeta: testMeta("web", "default"),
			Spec: networkingv1.IngressSpec{DefaultBackend: ptr.To(serviceBackend("web", 0, "http"))}}},
		{name: "nothing to route", obj: &networkingv1.Ingress{ObjectMeta: testMeta("web", "default")},
			want: []string{"FieldValueInvalid spec"}},
		{name: "pathType required", obj: ingressWith("", ingressPath("/", nil)),
			want: []string{"FieldValueRequired spec.rules[0].http.paths[0].pathType"}},
		{name: "pathType unknown", obj: ingressWith("", ingressPath("/", ptr.To(networkingv1.PathType("Regex")))),
			want: []string{"FieldValueNotSupported spec.rules[0].http.paths[0].pathType"}},
		{name: "prefix path relative", obj: ingressWith("", ingressPath("x", prefix)),
			want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].path"}},
		{name: "exact path unclean", obj: ingressWith("", ingressPath("/a//b/..", exact)),
			want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].path", "FieldValueInvalid spec.rules[0].http.paths[0].path"}},
		{name: "no paths", obj: ingressWith(""), want: []string{"FieldValueRequired spec.rules[0].http.paths"}},
		{name: "host is an IP", obj: ingressWith("10.0.0.1", ingressPath("/", prefix)),
			want: []string{"FieldValueInvalid spec.rules[0].host"}},
		{name: "bad wildcard host", obj: ingressWith("a.*.example", ingressPath("/", prefix)),
			want: []string{"FieldValueInvalid spec.rules[0].host"}},
		{name: "service name not DNS-1035", obj: ingressWith("", networkingv1.HTTPIngressPath{Path: "/", PathType: prefix, Backend: serviceBackend("1web", 80, "")}),
			want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].backend.service.name"}},
		{name: "service name kept on update", obj: oldRelaxed, old: oldRelaxed},
		{name: "no port", obj: ingressWith("", networkingv1.HTTPIngressPath{Path: "/", PathType: prefix, Backend: serviceBackend("web", 0, "")}),
			want: []string{"FieldValueRequired spec.rules[0].http.paths[0].backend"}},
		{name: "both ports", obj: ingressWith("", networkingv1.HTTPIngressPath{Path: "/", PathType: prefix, Backend: serviceBackend("web", 80, "http")}),
			want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].backend"}},
		{name: "port out of range", obj: ingressWith("", networkingv1.HTTPIngressPath{Path: "/", PathType: prefix, Backend: serviceBackend("web", 70000, "")}),
			want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].backend.service.port.number"}},
		{name: "service and resource", obj: both, want: []string{"FieldValueInvalid spec.rules[0].http.paths[0].backend"}},
		{name: "resource without kind and name", obj: resource,
			want: []string{"FieldValueRequired spec.defaultBackend.resource.kind", "FieldValueRequired spec.defaultBackend.resource.name"}},
		{name: "tls hosts and secret", obj: tls,
			want: []string{"FieldValueInvalid spec.tls[0].hosts[1]", "FieldValueInvalid spec.tls[0].secretName"}},
		{name: "class annotation disagrees", obj: withClass,
			want: []string{"FieldValueInvalid annotations.kubernetes.io/ingress.class"}},
		{name: "bad status IP", obj: func() *networkingv1.Ingress {
			i := ingressWith("", ingressPath("/", prefix))
			i.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "1.2.3"}, {Hostname: "10.1.1.1"}}
			return i
		}(), old: ingressWith("", ingressPath("/", prefix)),
			want: []string{"FieldValueInvalid status.loadBalancer.ingress[0].ip", "FieldValueInvalid status.loadBalancer.ingress[1].hostname"}},
	})
}

func TestIngressStrategyAndTable(t *testing.T) {
	r := Ingresses()
	prefix := ptr.To(networkingv1.PathTypePrefix)
	ing := ingressWith("a.example", ingressPath("/", prefix))
	ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.2"}}
	r.PrepareForCreate(ing)
	if len(ing.Status.LoadBalancer.Ingress) != 0 {
		t.Fatalf("create kept status: %+v", ing.Status)
	}

	old := ingressWith("a.example", ingressPath("/", prefix))
	old.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.9"}}
	upd := ingressWith("b.example", ingressPath("/", prefix))
	r.PrepareForUpdate(upd, old, "")
	if upd.Status.LoadBalancer.Ingress[0].IP != "10.0.0.9" || !r.SpecChanged(upd, old) {
		t.Fatalf("main update: %+v", upd)
	}
	status := ingressWith("b.example", ingressPath("/", prefix))
	status.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.3"}}
	r.PrepareForUpdate(status, old, "status")
	if status.Spec.Rules[0].Host != "a.example" || r.SpecChanged(status, old) {
		t.Fatalf("status update changed spec: %+v", status.Spec)
	}

	many := ingressWith("a", ingressPath("/", prefix))
	for _, h := range []string{"b", "c", "d", "e"} {
		many.Spec.Rules = append(many.Spec.Rules, networkingv1.IngressRule{Host: h})
	}
	many.Spec.IngressClassName = ptr.To("nginx")
	many.Spec.TLS = []networkingv1.IngressTLS{{}}
	many.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.2"}, {Hostname: "lb.example"}, {IP: "10.0.0.2"}}
	for _, tc := range []struct {
		name string
		ing  *networkingv1.Ingress
		want []any
	}{
		{"no class, host or address", ingressWith("", ingressPath("/", prefix)), []any{"web", "<none>", "*", "", "80"}},
		{"all columns", many, []any{"web", "nginx", "a,b,c + 2 more...", "10.0.0.2,lb.example", "80, 443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Cells(tc.ing); !reflect.DeepEqual(got[:5], tc.want) {
				t.Errorf("cells %q, want %q", got[:5], tc.want)
			}
		})
	}
}

func TestIngressClassValidation(t *testing.T) {
	class := func(controller string, params *networkingv1.IngressClassParametersReference) *networkingv1.IngressClass {
		return &networkingv1.IngressClass{ObjectMeta: testMeta("nginx", ""),
			Spec: networkingv1.IngressClassSpec{Controller: controller, Parameters: params}}
	}
	r := IngressClasses()
	defaulted := class("example.com/ingress", &networkingv1.IngressClassParametersReference{Kind: "Params", Name: "p"})
	r.Default(defaulted)
	if defaulted.Spec.Parameters.Scope == nil || *defaulted.Spec.Parameters.Scope != "Cluster" {
		t.Fatalf("scope not defaulted: %+v", defaulted.Spec.Parameters)
	}
	if got := r.Cells(defaulted)[:3]; !reflect.DeepEqual(got, []any{"nginx", "example.com/ingress", "Params/p"}) {
		t.Errorf("cells %q", got)
	}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: class("example.com/ingress-nginx", nil)},
		{name: "controller required", obj: class("", nil), want: []string{"FieldValueRequired spec.controller"}},
		{name: "controller not domain-prefixed", obj: class("nginx", nil), want: []string{"FieldValueInvalid spec.controller"}},
		{name: "namespaced parameters need a namespace", obj: class("example.com/x",
			&networkingv1.IngressClassParametersReference{Kind: "P", Name: "p", Scope: ptr.To("Namespace")}),
			want: []string{"FieldValueRequired spec.parameters.namespace"}},
		{name: "cluster parameters forbid a namespace", obj: class("example.com/x",
			&networkingv1.IngressClassParametersReference{Kind: "P", Name: "p", Namespace: ptr.To("default")}),
			want: []string{"FieldValueForbidden spec.parameters.namespace"}},
		{name: "unknown scope", obj: class("example.com/x",
			&networkingv1.IngressClassParametersReference{Kind: "P", Name: "p", Scope: ptr.To("Galaxy")}),
			want: []string{"FieldValueNotSupported spec.parameters.scope"}},
		{name: "namespaced is not allowed", obj: &networkingv1.IngressClass{ObjectMeta: testMeta("x", "default"),
			Spec: networkingv1.IngressClassSpec{Controller: "example.com/x"}}, want: []string{"FieldValueForbidden metadata.namespace"}},
		{name: "controller immutable", obj: class("example.com/b", nil), old: class("example.com/a", nil),
			want: []string{"FieldValueInvalid spec.controller"}},
	})
}

func TestNetworkPolicyDefaultsAndValidation(t *testing.T) {
	port := func(p intstr.IntOrString, end *int32) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Port: &p, EndPort: end}
	}
	r := NetworkPolicies()
	np := &networkingv1.NetworkPolicy{ObjectMeta: testMeta("np", "default"), Spec: networkingv1.NetworkPolicySpec{
		Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(53), nil)}}}}}
	r.Default(np)
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) ||
		*np.Spec.Egress[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Fatalf("defaulted: %+v", np.Spec)
	}
	ingressOnly := &networkingv1.NetworkPolicy{ObjectMeta: testMeta("np", "default")}
	r.Default(ingressOnly)
	if !reflect.DeepEqual(ingressOnly.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress"}) {
		t.Fatalf("defaulted: %+v", ingressOnly.Spec)
	}
	if got := r.Cells(&networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}})[1]; got != "app=web" {
		t.Errorf("pod selector cell %q", got)
	}
	if got := r.Cells(ingressOnly)[1]; got != "<none>" {
		t.Errorf("empty pod selector cell %q", got)
	}

	policy := func(spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{ObjectMeta: testMeta("np", "default"), Spec: spec}
	}
	from := func(peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: peers}}}
	}
	ports := func(ps ...networkingv1.NetworkPolicyPort) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ps}}}
	}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: policy(networkingv1.NetworkPolicySpec{
			PodSelector: *sel,
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: sel, NamespaceSelector: sel}, {IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}},
				Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(8000), ptr.To[int32](9000)), port(intstr.FromString("http"), nil)}}}})},
		{name: "bad pod selector", obj: policy(networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "b c"}}}),
			want: []string{"FieldValueInvalid spec.podSelector.matchLabels"}},
		{name: "empty peer", obj: policy(from(networkingv1.NetworkPolicyPeer{})), want: []string{"FieldValueRequired spec.ingress[0].from[0]"}},
		{name: "ipBlock with selector", obj: policy(from(networkingv1.NetworkPolicyPeer{PodSelector: sel, IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}})),
			want: []string{"FieldValueForbidden spec.ingress[0].from[0]"}},
		{name: "cidr required", obj: policy(from(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{}})),
			want: []string{"FieldValueRequired spec.ingress[0].from[0].ipBlock.cidr"}},
		{name: "bad cidr", obj: policy(from(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/33"}})),
			want: []string{"FieldValueInvalid spec.ingress[0].from[0].ipBlock.cidr"}},
		{name: "except outside cidr", obj: policy(from(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.0.0.0/16", "192.168.0.0/24"}}})),
			want: []string{"FieldValueInvalid spec.ingress[0].from[0].ipBlock.except[0]", "FieldValueInvalid spec.ingress[0].from[0].ipBlock.except[1]"}},
		{name: "bad protocol", obj: policy(ports(networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.Protocol("ICMP"))})),
			want: []string{"FieldValueNotSupported spec.ingress[0].ports[0].protocol"}},
		{name: "endPort below port", obj: policy(ports(port(intstr.FromInt32(90), ptr.To[int32](80)))),
			want: []string{"FieldValueInvalid spec.ingress[0].ports[0].endPort"}},
		{name: "endPort with named port", obj: policy(ports(port(intstr.FromString("http"), ptr.To[int32](80)))),
			want: []string{"FieldValueInvalid spec.ingress[0].ports[0].endPort"}},
		{name: "endPort without port", obj: policy(ports(networkingv1.NetworkPolicyPort{EndPort: ptr.To[int32](80)})),
			want: []string{"FieldValueInvalid spec.ingress[0].ports[0].endPort"}},
		{name: "port out of range", obj: policy(ports(port(intstr.FromInt32(0), nil))),
			want: []string{"FieldValueInvalid spec.ingress[0].ports[0].port"}},
		{name: "unknown policy type", obj: policy(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Sideways"}}),
			want: []string{"FieldValueNotSupported spec.policyTypes[0]"}},
		{name: "three policy types", obj: policy(networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress", "Ingress"}}),
			want: []string{"FieldValueInvalid spec.policyTypes"}},
		{name: "update keeps name", obj: &networkingv1.NetworkPolicy{ObjectMeta: testMeta("other", "default")},
			old: &networkingv1.NetworkPolicy{ObjectMeta: testMeta("np", "default")}, want: []string{"FieldValueInvalid metadata.name"}},
	})
}
