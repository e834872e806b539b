package registry

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Test IP plan: the service CIDR is 10.43.0.0/16.
const (
	testClusterIP  = "10.43.0.10"
	otherClusterIP = "10.43.0.11"
)

func svc(name string, mutate ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{ObjectMeta: testMeta(name, "default"),
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": name}, Ports: []corev1.ServicePort{{Port: 80}}}}
	for _, m := range mutate {
		m(s)
	}
	return s
}

// createService runs the hooks a create goes through before allocation.
func createService(s *corev1.Service) *corev1.Service {
	s = s.DeepCopy()
	r := Services()
	r.Default(s)
	r.PrepareForCreate(s)
	return s
}

// updateService runs the hooks an update goes through and its validation.
func updateService(s, old *corev1.Service, sub string) (*corev1.Service, field.ErrorList) {
	s = s.DeepCopy()
	r := Services()
	r.Default(s)
	r.PrepareForUpdate(s, old, sub)
	return s, r.ValidateUpdate(s, old)
}

func TestServiceDefaults(t *testing.T) {
	single, dual := corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyRequireDualStack
	cluster := corev1.ServiceInternalTrafficPolicyCluster
	for _, tc := range []struct {
		name  string
		in    *corev1.Service
		check func(t *testing.T, s *corev1.Service)
	}{
		{"cluster IP", svc("web"), func(t *testing.T, s *corev1.Service) {
			p := s.Spec.Ports[0]
			if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
				p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(80) ||
				!reflect.DeepEqual(s.Spec.InternalTrafficPolicy, &cluster) || s.Spec.ExternalTrafficPolicy != "" ||
				!reflect.DeepEqual(s.Spec.IPFamilyPolicy, &single) ||
				!reflect.DeepEqual(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol}) ||
				s.Spec.ClusterIP != "" || s.Spec.AllocateLoadBalancerNodePorts != nil {
				t.Errorf("defaults: %+v", s.Spec)
			}
		}},
		{"node port", svc("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }), func(t *testing.T, s *corev1.Service) {
			if s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("externalTrafficPolicy %q", s.Spec.ExternalTrafficPolicy)
			}
		}},
		{"load balancer", svc("web", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer }), func(t *testing.T, s *corev1.Service) {
			if s.Spec.AllocateLoadBalancerNodePorts == nil || !*s.Spec.AllocateLoadBalancerNodePorts ||
				s.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
				t.Errorf("load balancer defaults: %+v", s.Spec)
			}
		}},
		{"client IP affinity", svc("web", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }), func(t *testing.T, s *corev1.Service) {
			if c := s.Spec.SessionAffinityConfig; c == nil || *c.ClientIP.TimeoutSeconds != 10800 {
				t.Errorf("affinity config %+v", c)
			}
		}},
		{"explicit cluster IP", svc("web", func(s *corev1.Service) { s.Spec.ClusterIP = testClusterIP }), func(t *testing.T, s *corev1.Service) {
			if !reflect.DeepEqual(s.Spec.ClusterIPs, []string{testClusterIP}) {
				t.Errorf("clusterIPs %v", s.Spec.ClusterIPs)
			}
		}},
		{"headless without selector", svc("web", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.Selector = "None", nil }), func(t *testing.T, s *corev1.Service) {
			if !reflect.DeepEqual(s.Spec.IPFamilyPolicy, &dual) ||
				!reflect.DeepEqual(s.Spec.IPFamilies, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}) {
				t.Errorf("families %v %v", *s.Spec.IPFamilyPolicy, s.Spec.IPFamilies)
			}
		}},
		{"external name", svc("web", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "example.com", nil
		}), func(t *testing.T, s *corev1.Service) {
			if s.Spec.IPFamilyPolicy != nil || s.Spec.IPFamilies != nil || s.Spec.InternalTrafficPolicy != nil {
				t.Errorf("external name got families or policies: %+v", s.Spec)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := createService(tc.in)
			tc.check(t, s)
			if errs := Services().Validate(s); len(errs) > 0 {
				t.Errorf("defaulted service invalid: %v", errs)
			}
		})
	}
}

func TestServiceValidation(t *testing.T) {
	prepared := func(m func(*corev1.Service)) *corev1.Service { return createService(svc("web", m)) }
	timeout := int32(0)
	runValidation(t, Services(), []validationCase{
		{name: "valid, not yet allocated", obj: prepared(func(*corev1.Service) {})},
		{name: "not a DNS-1035 label", obj: createService(svc("1web")), want: []string{"FieldValueInvalid metadata.name"}},
		{name: "no ports", obj: prepared(func(s *corev1.Service) { s.Spec.Ports = nil }), want: []string{"FieldValueRequired spec.ports"}},
		{name: "headless without ports", obj: prepared(func(s *corev1.Service) { s.Spec.Ports, s.Spec.ClusterIP = nil, "None" })},
		{name: "several ports need names", obj: prepared(func(s *corev1.Service) { s.Spec.Ports = []corev1.ServicePort{{Port: 80}, {Port: 443}} }),
			want: []string{"FieldValueRequired spec.ports[0].name", "FieldValueRequired spec.ports[1].name"}},
		{name: "duplicate port names and ports", obj: prepared(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80}, {Name: "http", Port: 80}}
		}), want: []string{"FieldValueDuplicate spec.ports[1].name", "FieldValueDuplicate spec.ports[1]"}},
		{name: "ports out of range", obj: prepared(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Port: 70000, TargetPort: intstr.FromString("Bad_Name"), Protocol: "ICMP"}}
		}), want: []string{"FieldValueInvalid spec.ports[0].port", "FieldValueNotSupported spec.ports[0].protocol", "FieldValueInvalid spec.ports[0].targetPort"}},
		{name: "node port on a cluster IP service", obj: prepared(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }),
			want: []string{"FieldValueForbidden spec.ports[0].nodePort"}},
		{name: "duplicate node ports", obj: prepared(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports = []corev1.ServicePort{{Name: "a", Port: 80, NodePort: 30080}, {Name: "b", Port: 81, NodePort: 30080}}
		}), want: []string{"FieldValueDuplicate spec.ports[1].nodePort"}},
		{name: "unknown type", obj: prepared(func(s *corev1.Service) { s.Spec.Type = "Magic" }), want: []string{"FieldValueNotSupported spec.type"}},
		{name: "bad selector", obj: prepared(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "a b"} }),
			want: []string{"FieldValueInvalid spec.selector"}},
		{name: "external name required", obj: prepared(func(s *corev1.Service) { s.Spec.Type, s.Spec.Ports = corev1.ServiceTypeExternalName, nil }),
			want: []string{"FieldValueRequired spec.externalName"}},
		{name: "external name with a cluster IP", obj: createService(svc("web", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName, s.Spec.ClusterIP = corev1.ServiceTypeExternalName, "db.example.com.", testClusterIP
		})), want: []string{"FieldValueForbidden spec.clusterIPs"}},
		{name: "headless node port", obj: prepared(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ServiceTypeNodePort, "None", nil
		}),
			want: []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{name: "cluster IP not an IP", obj: createService(svc("web", func(s *corev1.Service) { s.Spec.ClusterIP = "ten" })),
			want: []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{name: "IPv6 cluster IP on an IPv4 cluster", obj: createService(svc("web", func(s *corev1.Service) { s.Spec.ClusterIP = "fd00::10" })),
			want: []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{name: "dual stack required", obj: createService(svc("web", func(s *corev1.Service) {
			p := corev1.IPFamilyPolicyRequireDualStack
			s.Spec.IPFamilyPolicy = &p
		})), want: []string{"FieldValueInvalid spec.ipFamilyPolicy"}},
		{name: "IPv6 family", obj: createService(svc("web", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} })),
			want: []string{"FieldValueInvalid spec.ipFamilies[0]"}},
		{name: "affinity timeout", obj: prepared(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}), want: []string{"FieldValueInvalid spec.sessionAffinityConfig.clientIP.timeoutSeconds"}},
		{name: "loopback external IP", obj: prepared(func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }),
			want: []string{"FieldValueInvalid spec.externalIPs[0]"}},
		{name: "source ranges need a load balancer", obj: prepared(func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }),
			want: []string{"FieldValueForbidden spec.LoadBalancerSourceRanges"}},
		{name: "external traffic policy on a cluster IP service", obj: prepared(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			want: []string{"FieldValueInvalid spec.externalTrafficPolicy"}},
	})
}

func TestServiceUpdates(t *testing.T) {
	allocated := func(m ...func(*corev1.Service)) *corev1.Service {
		s := createService(svc("web", m...))
		s.Spec.ClusterIP, s.Spec.ClusterIPs = testClusterIP, []string{testClusterIP}
		for i := range s.Spec.Ports {
			if needsNodePort(s) && s.Spec.Ports[i].NodePort == 0 {
				s.Spec.Ports[i].NodePort = 30080 + int32(i)
			}
		}
		return s
	}
	nodePort := func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }
	for _, tc := range []struct {
		name     string
		old, new *corev1.Service
		sub      string
		want     []string
		check    func(t *testing.T, s *corev1.Service)
	}{
		{name: "re-submitted YAML keeps the allocated IP and node port", old: allocated(nodePort), new: svc("web", nodePort),
			check: func(t *testing.T, s *corev1.Service) {
				if s.Spec.ClusterIP != testClusterIP || s.Spec.Ports[0].NodePort != 30080 || len(s.Spec.IPFamilies) != 1 {
					t.Errorf("not carried over: %+v", s.Spec)
				}
			}},
		{name: "cluster IP is immutable", old: allocated(), new: svc("web", func(s *corev1.Service) { s.Spec.ClusterIP = otherClusterIP }),
			want: []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{name: "to ExternalName drops the cluster IP", old: allocated(), new: func() *corev1.Service {
			s := allocated()
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
			return s
		}(), check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.ClusterIP != "" || s.Spec.ClusterIPs != nil || s.Spec.IPFamilies != nil || s.Spec.IPFamilyPolicy != nil {
				t.Errorf("ExternalName kept IP fields: %+v", s.Spec)
			}
		}},
		{name: "from ExternalName gets families", old: createService(svc("web", func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
		})), new: svc("web"), check: func(t *testing.T, s *corev1.Service) {
			if len(s.Spec.IPFamilies) != 1 || s.Spec.IPFamilyPolicy == nil {
				t.Errorf("no families: %+v", s.Spec)
			}
		}},
		{name: "to ClusterIP drops node ports", old: allocated(nodePort), new: func() *corev1.Service {
			s := allocated(nodePort)
			s.Spec.Type, s.Spec.ExternalTrafficPolicy = corev1.ServiceTypeClusterIP, corev1.ServiceExternalTrafficPolicyCluster
			return s
		}(), check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].NodePort != 0 || s.Spec.ExternalTrafficPolicy != "" {
				t.Errorf("node port kept: %+v", s.Spec)
			}
		}},
		{name: "status write keeps the spec", old: allocated(), sub: "status", new: func() *corev1.Service {
			s := allocated()
			s.Spec.Ports[0].Port = 8080
			return s
		}(), check: func(t *testing.T, s *corev1.Service) {
			if s.Spec.Ports[0].Port != 80 {
				t.Errorf("status write changed the spec")
			}
		}},
		{name: "load balancer status only for load balancers", old: allocated(), sub: "status", new: func() *corev1.Service {
			s := allocated()
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}
			return s
		}(), want: []string{"FieldValueForbidden status.loadBalancer.ingress"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := updateService(tc.new, tc.old, tc.sub)
			var types []string
			for _, e := range errs {
				types = append(types, string(e.Type)+" "+e.Field)
			}
			if strings.Join(types, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors %v, want %v", errs, tc.want)
			}
			if tc.check != nil {
				tc.check(t, got)
			}
		})
	}
}

func TestServiceTable(t *testing.T) {
	lb := createService(svc("lb", func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.Ports = []corev1.ServicePort{{Name: "http", Port: 80, NodePort: 30080}, {Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: 30053}}
	}))
	lb.Spec.ClusterIPs = []string{testClusterIP}
	lbReady := lb.DeepCopy()
	lbReady.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}, {Hostname: "lb.example.com"}}
	ext := createService(svc("ext", func(s *corev1.Service) {
		s.Spec.Type, s.Spec.ExternalName, s.Spec.Ports, s.Spec.Selector = corev1.ServiceTypeExternalName, "db.example.com", nil, nil
	}))
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		want []any
	}{
		{"pending load balancer", lb, []any{"lb", "LoadBalancer", testClusterIP, "<pending>", "80:30080/TCP,53:30053/UDP", "<unknown>", "app=lb"}},
		{"load balancer with ingress", lbReady, []any{"lb", "LoadBalancer", testClusterIP, "192.0.2.10,lb.example.com", "80:30080/TCP,53:30053/UDP", "<unknown>", "app=lb"}},
		{"external name", ext, []any{"ext", "ExternalName", "<none>", "db.example.com", "<none>", "<unknown>", "<none>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Services().Cells(tc.svc); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("cells %#v, want %#v", got, tc.want)
			}
		})
	}
	if f := Services().Fields(lb); f["spec.type"] != "LoadBalancer" || f["spec.clusterIP"] != "" {
		t.Errorf("fields %v", f)
	}
}
