package registry

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// annotationIngressClass is the class annotation that predates
// spec.ingressClassName; on create both must agree.
const annotationIngressClass = "kubernetes.io/ingress.class"

// Ingresses as upstream serves them: pathType has no default in v1 and is
// required on every path; status is written only through /status; every
// spec change bumps the generation.
func Ingresses() *Resource {
	return &Resource{
		GVR:          networkingv1.SchemeGroupVersion.WithResource("ingresses"),
		Kind:         "Ingress",
		SingularName: "ingress",
		Namespaced:   true,
		ShortNames:   []string{"ing"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &networkingv1.Ingress{} },
		NewList:      func() runtime.Object { return &networkingv1.IngressList{} },
		PrepareForCreate: func(obj runtime.Object) {
			obj.(*networkingv1.Ingress).Status = networkingv1.IngressStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			ing := obj.(*networkingv1.Ingress)
			errs := validateIngress(ing, ingressOptions{})
			if class, set := ing.Annotations[annotationIngressClass]; set && ing.Spec.IngressClassName != nil && class != *ing.Spec.IngressClassName {
				errs = append(errs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), class,
					"must match `ingressClassName` when both are specified"))
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			ing, prev := obj.(*networkingv1.Ingress), old.(*networkingv1.Ingress)
			errs := validateMetaUpdate(ing, prev)
			errs = append(errs, validateIngress(ing, ingressOptionsFor(prev))...)
			return append(errs, validateIngressLoadBalancer(ing.Status.LoadBalancer, prev.Status.LoadBalancer)...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*networkingv1.Ingress).Spec, old.(*networkingv1.Ingress).Spec)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Class", Type: "string", Description: "The name of the IngressClass resource that should be used for additional configuration"},
			{Name: "Hosts", Type: "string", Description: "Hosts that incoming requests are matched against before the ingress rule"},
			{Name: "Address", Type: "string", Description: "Address is a list containing ingress points for the load-balancer"},
			{Name: "Ports", Type: "string", Description: "Ports of TLS configurations that open"},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			ing := obj.(*networkingv1.Ingress)
			class := "<none>"
			if ing.Spec.IngressClassName != nil {
				class = *ing.Spec.IngressClassName
			}
			return []any{ing.Name, class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer),
				ingressPorts(ing.Spec.TLS), age(ing)}
		},
	}
}

// ingressHosts is upstream's HOSTS cell: up to three hosts, "*" for none.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const max = 3
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == max {
			more = true
		}
		if !more && r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	s := strings.Join(hosts, ",")
	if more {
		s = fmt.Sprintf("%s + %d more...", s, len(rules)-max)
	}
	return s
}

// ingressAddress is the ADDRESS cell: the sorted, distinct IPs or
// hostnames. The server prints as -o wide does, so nothing is clipped.
func ingressAddress(lb networkingv1.IngressLoadBalancerStatus) string {
	var addrs []string
	for _, in := range lb.Ingress {
		a := in.IP
		if a == "" {
			a = in.Hostname
		}
		if a != "" && !slices.Contains(addrs, a) {
			addrs = append(addrs, a)
		}
	}
	slices.Sort(addrs)
	return strings.Join(addrs, ",")
}

func ingressPorts(tls []networkingv1.IngressTLS) string {
	if len(tls) != 0 {
		return "80, 443"
	}
	return "80"
}

// ingressOptions relax validation for what an existing ingress already
// stores, as upstream does on update.
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
	allowRelaxedServiceName      bool
}

func ingressOptionsFor(old *networkingv1.Ingress) ingressOptions {
	var o ingressOptions
	for _, tls := range old.Spec.TLS {
		if len(validateTLSSecretName(tls.SecretName)) > 0 {
			o.allowInvalidSecretName = true
		}
	}
	for _, r := range old.Spec.Rules {
		if strings.Contains(r.Host, "*") && len(validateIngressRuleValue(&r.IngressRuleValue, nil, ingressOptions{})) > 0 {
			o.allowInvalidWildcardHostRule = true
		}
	}
	relaxed := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil && len(apivalidation.NameIsDNSLabel(b.Service.Name, false)) == 0 &&
			len(apivalidation.NameIsDNS1035Label(b.Service.Name, false)) > 0 {
			o.allowRelaxedServiceName = true
		}
	}
	relaxed(old.Spec.DefaultBackend)
	for _, r := range old.Spec.Rules {
		if r.HTTP != nil {
			for i := range r.HTTP.Paths {
				relaxed(&r.HTTP.Paths[i].Backend)
			}
		}
	}
	return o
}

func validateTLSSecretName(name string) []string {
	if name == "" {
		return nil
	}
	return apivalidation.NameIsDNSSubdomain(name, false)
}

func validateIngress(ing *networkingv1.Ingress, o ingressOptions) field.ErrorList {
	errs := validateMeta(ing, true, apivalidation.NameIsDNSSubdomain)
	spec := &ing.Spec
	specPath := field.NewPath("spec")
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(specPath, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, specPath.Child("defaultBackend"), o)...)
	}
	for i, r := range spec.Rules {
		rulePath := specPath.Child("rules").Index(i)
		wildcard := false
		if r.Host != "" {
			if netutils.ParseIPSloppy(r.Host) != nil {
				errs = append(errs, field.Invalid(rulePath.Child("host"), r.Host, "must be a DNS name, not an IP address"))
			}
			check := validation.IsDNS1123Subdomain
			if strings.Contains(r.Host, "*") {
				check, wildcard = validation.IsWildcardDNS1123Subdomain, true
			}
			for _, msg := range check(r.Host) {
				errs = append(errs, field.Invalid(rulePath.Child("host"), r.Host, msg))
			}
		}
		if !wildcard || !o.allowInvalidWildcardHostRule {
			errs = append(errs, validateIngressRuleValue(&r.IngressRuleValue, rulePath, o)...)
		}
	}
	for i, tls := range spec.TLS {
		tlsPath := specPath.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			check := validation.IsDNS1123Subdomain
			if strings.Contains(host, "*") {
				check = validation.IsWildcardDNS1123Subdomain
			}
			for _, msg := range check(host) {
				errs = append(errs, field.Invalid(tlsPath.Child("hosts").Index(j), host, msg))
			}
		}
		if !o.allowInvalidSecretName {
			for _, msg := range validateTLSSecretName(tls.SecretName) {
				errs = append(errs, field.Invalid(tlsPath.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if spec.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*spec.IngressClassName, false) {
			errs = append(errs, field.Invalid(specPath.Child("ingressClassName"), *spec.IngressClassName, msg))
		}
	}
	return errs
}

func validateIngressRuleValue(v *networkingv1.IngressRuleValue, path *field.Path, o ingressOptions) field.ErrorList {
	if v.HTTP == nil {
		return nil
	}
	var errs field.ErrorList
	httpPath := path.Child("http")
	if len(v.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(httpPath.Child("paths"), ""))
	}
	for i := range v.HTTP.Paths {
		errs = append(errs, validateIngressPath(&v.HTTP.Paths[i], httpPath.Child("paths").Index(i), o)...)
	}
	return errs
}

var (
	supportedPathTypes = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific),
		string(networkingv1.PathTypePrefix)}
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
)

// validateIngressPath: pathType is required; Exact and Prefix paths must
// be absolute and clean, ImplementationSpecific ones absolute if set.
func validateIngressPath(p *networkingv1.HTTPIngressPath, path *field.Path, o ingressOptions) field.ErrorList {
	if p.PathType == nil {
		return field.ErrorList{field.Required(path.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	pathPath := path.Child("path")
	switch *p.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pathPath, p.Path, "must be an absolute path"))
		}
		if p.Path != "" {
			for _, seq := range invalidPathSequences {
				if strings.Contains(p.Path, seq) {
					errs = append(errs, field.Invalid(pathPath, p.Path, fmt.Sprintf("must not contain '%s'", seq)))
				}
			}
			for _, suffix := range invalidPathSuffixes {
				if strings.HasSuffix(p.Path, suffix) {
					errs = append(errs, field.Invalid(pathPath, p.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
				}
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
			errs = append(errs, field.Invalid(pathPath, p.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(path.Child("pathType"), *p.PathType, supportedPathTypes))
	}
	return append(errs, validateIngressBackend(&p.Backend, path.Child("backend"), o)...)
}

// validateIngressBackend: exactly one of a service (name and one of port
// name or number) or a typed resource reference.
func validateIngressBackend(b *networkingv1.IngressBackend, path *field.Path, o ingressOptions) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(path, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return validateTypedReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, path.Child("resource"))
	case b.Service == nil:
		return field.ErrorList{field.Invalid(path, "", "resource or service backend is required")}
	}
	var errs field.ErrorList
	svc := b.Service
	if svc.Name == "" {
		errs = append(errs, field.Required(path.Child("service", "name"), ""))
	} else {
		check := apivalidation.NameIsDNS1035Label // upstream's ValidateServiceName
		if o.allowRelaxedServiceName {
			check = apivalidation.NameIsDNSLabel
		}
		for _, msg := range check(svc.Name, false) {
			errs = append(errs, field.Invalid(path.Child("service", "name"), svc.Name, msg))
		}
	}
	portPath := path.Child("service", "port")
	switch hasName, hasNumber := svc.Port.Name != "", svc.Port.Number != 0; {
	case hasName && hasNumber:
		errs = append(errs, field.Invalid(path, "", "cannot set both port name & port number"))
	case hasName:
		for _, msg := range validation.IsValidPortName(svc.Port.Name) {
			errs = append(errs, field.Invalid(portPath.Child("name"), svc.Port.Name, msg))
		}
	case hasNumber:
		for _, msg := range validation.IsValidPortNum(int(svc.Port.Number)) {
			errs = append(errs, field.Invalid(portPath.Child("number"), svc.Port.Number, msg))
		}
	default:
		errs = append(errs, field.Required(path, "port name or number is required"))
	}
	return errs
}

// validateTypedReference checks a reference to an object of any kind, as
// ingress resource backends and ingress class parameters make them.
func validateTypedReference(apiGroup *string, kind, name string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if apiGroup != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*apiGroup) {
			errs = append(errs, field.Invalid(path.Child("apiGroup"), *apiGroup, msg))
		}
	}
	for _, f := range []struct{ name, value string }{{"kind", kind}, {"name", name}} {
		if f.value == "" {
			errs = append(errs, field.Required(path.Child(f.name), ""))
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(path.Child(f.name), f.value, msg))
		}
	}
	return errs
}

// validateIngressLoadBalancer checks status.loadBalancer: IPs (an IP the
// old status had is kept even if no longer valid) and hostnames that are
// DNS names.
func validateIngressLoadBalancer(lb, old networkingv1.IngressLoadBalancerStatus) field.ErrorList {
	var oldIPs []string
	for _, in := range old.Ingress {
		if in.IP != "" {
			oldIPs = append(oldIPs, in.IP)
		}
	}
	var errs field.ErrorList
	for i, in := range lb.Ingress {
		p := field.NewPath("status", "loadBalancer", "ingress").Index(i)
		if in.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(p.Child("ip"), in.IP, false, oldIPs)...)
		}
		if in.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(in.Hostname) {
				errs = append(errs, field.Invalid(p.Child("hostname"), in.Hostname, msg))
			}
			if netutils.ParseIPSloppy(in.Hostname) != nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), in.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}
