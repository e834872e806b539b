package registry

// Services as upstream serves them. A Service is a union discriminated by
// spec.type, and several of its fields are interlinked: clusterIP and
// clusterIPs, ipFamilies and ipFamilyPolicy, nodePorts. Upstream settles
// them around its allocators in this order, and so do the hooks here:
//
//   - Default: the v1 defaults (type ClusterIP, sessionAffinity None, port
//     protocol TCP, targetPort = port, traffic policies,
//     allocateLoadBalancerNodePorts, status ipMode VIP).
//   - PrepareForCreate / PrepareForUpdate: the REST layer's contextual
//     defaulting. On update, values the server allocated and the client
//     left out are carried over (patchAllocatedValues) and fields a type
//     change makes meaningless are dropped (dropTypeDependentFields). Then
//     clusterIPs follow clusterIP and ipFamilyPolicy / ipFamilies are
//     filled in for mini's single-stack IPv4 service CIDR.
//   - The server's ClusterIP / NodePort allocators run next (they are not
//     part of the registry): they fill clusterIP(s) for ipFamilies, nodePorts
//     and healthCheckNodePort, and release what PrepareForUpdate dropped.
//   - Validate / ValidateUpdate: upstream's validation, which accepts an
//     object whose clusterIP and nodePorts are still empty.

import (
	"fmt"
	"net"
	"reflect"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ServiceIPFamily is the one family of mini's service CIDR (10.43.0.0/16):
// mini runs single-stack IPv4 services.
const ServiceIPFamily = corev1.IPv4Protocol

// maxClientIPAffinitySeconds bounds sessionAffinityConfig.clientIP.timeoutSeconds.
const maxClientIPAffinitySeconds = 86400

var (
	serviceTypes          = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeExternalName, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort}
	serviceAffinities     = []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}
	portProtocols         = []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
	ipFamilies            = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	ipFamilyPolicies      = []corev1.IPFamilyPolicy{corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack, corev1.IPFamilyPolicySingleStack}
	trafficPolicies       = []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}
	internalPolicies      = []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}
	loadBalancerIPModes   = []corev1.LoadBalancerIPMode{corev1.LoadBalancerIPModeProxy, corev1.LoadBalancerIPModeVIP}
	servicePath           = field.NewPath("spec")
	serviceClusterIPsPath = servicePath.Child("clusterIPs")
)

// Services serves core/v1 services with their status subresource.
func Services() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("services"),
		Kind:         "Service",
		SingularName: "service",
		Namespaced:   true,
		ShortNames:   []string{"svc"},
		Categories:   []string{"all"},
		Subresources: []string{"status"},
		// Upstream answers a delete with the deleted object.
		ReturnDeletedObject: true,
		New:                 func() runtime.Object { return &corev1.Service{} },
		NewList:             func() runtime.Object { return &corev1.ServiceList{} },
		Default:             func(obj runtime.Object) { defaultService(obj.(*corev1.Service)) },
		PrepareForCreate: func(obj runtime.Object) {
			svc := obj.(*corev1.Service)
			svc.Status = corev1.ServiceStatus{}
			normalizeClusterIPs(svc, nil)
			initServiceIPFamilies(svc, nil)
			dropExternalNamePolicy(svc)
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			svc, prev := obj.(*corev1.Service), old.(*corev1.Service)
			if sub == "status" {
				svc.Spec = prev.Spec
				return
			}
			svc.Status = prev.Status
			patchAllocatedValues(svc, prev)
			normalizeClusterIPs(svc, prev)
			dropTypeDependentFields(svc, prev)
			initServiceIPFamilies(svc, prev)
			dropExternalNamePolicy(svc)
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateService(obj.(*corev1.Service)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return validateServiceUpdate(obj.(*corev1.Service), old.(*corev1.Service))
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Type", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["type"]},
			{Name: "Cluster-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]},
			{Name: "External-IP", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]},
			{Name: "Port(s)", Type: "string", Description: corev1.ServiceSpec{}.SwaggerDoc()["ports"]},
			ageColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: corev1.ServiceSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any {
			svc := obj.(*corev1.Service)
			clusterIP := "<none>"
			if len(svc.Spec.ClusterIPs) > 0 {
				clusterIP = svc.Spec.ClusterIPs[0]
			}
			ports := servicePortsString(svc.Spec.Ports)
			if ports == "" {
				ports = "<none>"
			}
			return []any{svc.Name, string(svc.Spec.Type), clusterIP, serviceExternalIP(svc), ports, age(svc),
				labels.FormatLabels(svc.Spec.Selector)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			svc := obj.(*corev1.Service)
			return fields.Set{"spec.clusterIP": svc.Spec.ClusterIP, "spec.type": string(svc.Spec.Type)}
		},
	}
}

// defaultService is upstream's SetDefaults_Service.
func defaultService(svc *corev1.Service) {
	spec := &svc.Spec
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	switch spec.SessionAffinity {
	case corev1.ServiceAffinityNone:
		spec.SessionAffinityConfig = nil
	case corev1.ServiceAffinityClientIP:
		if c := spec.SessionAffinityConfig; c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil {
			timeout := int32(corev1.DefaultClientIPServiceAffinitySeconds)
			spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
		}
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	for i := range spec.Ports {
		p := &spec.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if externallyAccessible(svc) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.InternalTrafficPolicy == nil && (spec.Type == corev1.ServiceTypeNodePort ||
		spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeClusterIP) {
		p := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &p
	}
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		if spec.AllocateLoadBalancerNodePorts == nil {
			yes := true
			spec.AllocateLoadBalancerNodePorts = &yes
		}
		for i, ing := range svc.Status.LoadBalancer.Ingress {
			if ing.IP != "" && ing.IPMode == nil {
				vip := corev1.LoadBalancerIPModeVIP
				svc.Status.LoadBalancer.Ingress[i].IPMode = &vip
			}
		}
	}
}

// externallyAccessible: NodePort and LoadBalancer services, and ClusterIP
// services with external IPs.
func externallyAccessible(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeClusterIP && len(svc.Spec.ExternalIPs) > 0)
}

// needsHealthCheck: a LoadBalancer service that keeps traffic on the node
// it arrives at needs a health-check node port.
func needsHealthCheck(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

func needsClusterIP(svc *corev1.Service) bool { return svc.Spec.Type != corev1.ServiceTypeExternalName }

func needsNodePort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer
}

func isHeadless(svc *corev1.Service) bool {
	return len(svc.Spec.ClusterIPs) == 1 && svc.Spec.ClusterIPs[0] == corev1.ClusterIPNone
}

// normalizeClusterIPs keeps clusterIPs in step with clusterIP for clients
// that only know the singular field.
func normalizeClusterIPs(svc, old *corev1.Service) {
	spec := &svc.Spec
	if old == nil {
		if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
		return
	}
	if len(old.Spec.ClusterIPs) > 0 && len(spec.ClusterIPs) == 0 && old.Spec.ClusterIP == spec.ClusterIP {
		spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if old.Spec.ClusterIP != spec.ClusterIP {
		same := slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs)
		switch {
		case old.Spec.ClusterIP != "" && spec.ClusterIP == "":
			if same {
				spec.ClusterIPs = nil
			}
		case same:
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
	}
}

// patchAllocatedValues carries over what the server allocated and an
// update left out, so that re-submitting the created YAML succeeds.
func patchAllocatedValues(svc, old *corev1.Service) {
	if needsClusterIP(old) && needsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = old.Spec.ClusterIPs
		}
	}
	if needsNodePort(old) && needsNodePort(svc) {
		used := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && slices.ContainsFunc(old.Spec.Ports, func(o corev1.ServicePort) bool { return o.NodePort == p.NodePort }) {
				used[p.NodePort] = true
			}
		}
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			byName[p.Name] = p.NodePort
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort == 0 && !used[byName[p.Name]] {
				p.NodePort = byName[p.Name]
			}
		}
	}
	if needsHealthCheck(old) && needsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// dropTypeDependentFields clears, on a type change, the fields the new
// type does not use, when the client left them as they were; the
// allocators then release them.
func dropTypeDependentFields(svc, old *corev1.Service) {
	if needsClusterIP(old) && !needsClusterIP(svc) {
		if old.Spec.ClusterIP == svc.Spec.ClusterIP && slices.Equal(old.Spec.ClusterIPs, svc.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if reflect.DeepEqual(old.Spec.IPFamilies, svc.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if policyOf(old) == policyOf(svc) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(svc) && !addsNodePorts(svc, old) {
		for i := range svc.Spec.Ports {
			svc.Spec.Ports[i].NodePort = 0
		}
	}
	if needsHealthCheck(old) && !needsHealthCheck(svc) && old.Spec.HealthCheckNodePort == svc.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if a, b := old.Spec.AllocateLoadBalancerNodePorts, svc.Spec.AllocateLoadBalancerNodePorts; a != nil && b != nil && *a == *b {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if reflect.DeepEqual(old.Spec.LoadBalancerClass, svc.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	if needsNodePort(old) && !needsNodePort(svc) && old.Spec.ExternalTrafficPolicy == svc.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

// addsNodePorts reports whether svc has a node port old did not have.
func addsNodePorts(svc, old *corev1.Service) bool {
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 && !slices.ContainsFunc(old.Spec.Ports, func(o corev1.ServicePort) bool { return o.NodePort == p.NodePort }) {
			return true
		}
	}
	return false
}

func policyOf(svc *corev1.Service) corev1.IPFamilyPolicy {
	if svc.Spec.IPFamilyPolicy == nil {
		return ""
	}
	return *svc.Spec.IPFamilyPolicy
}

// initServiceIPFamilies is the defaulting half of upstream's
// initIPFamilyFields for a single-stack IPv4 cluster: the policy defaults
// to SingleStack (kept from before on update; RequireDualStack for a
// headless service without selector) and the families are read from the
// cluster IPs or default to IPv4. What a single-stack cluster cannot serve
// is left for validateServiceFamilies to refuse.
func initServiceIPFamilies(svc, old *corev1.Service) {
	if !needsClusterIP(svc) {
		return
	}
	spec := &svc.Spec
	selectorlessHeadless := spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0
	if spec.IPFamilyPolicy == nil {
		p := corev1.IPFamilyPolicySingleStack
		switch {
		case old != nil && old.Spec.IPFamilyPolicy != nil:
			p = *old.Spec.IPFamilyPolicy
		case selectorlessHeadless:
			p = corev1.IPFamilyPolicyRequireDualStack
		}
		spec.IPFamilyPolicy = &p
	}
	if old != nil && *spec.IPFamilyPolicy == corev1.IPFamilyPolicySingleStack {
		if slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs) && len(spec.ClusterIPs) > 1 {
			spec.ClusterIPs = spec.ClusterIPs[:1]
		}
		if slices.Equal(old.Spec.IPFamilies, spec.IPFamilies) && len(spec.IPFamilies) > 1 {
			spec.IPFamilies = spec.IPFamilies[:1]
		}
	}
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		if i < len(spec.IPFamilies) {
			continue
		}
		if familyOf(ip) != ServiceIPFamily {
			return // not served here: validation says so
		}
		spec.IPFamilies = append(spec.IPFamilies, ServiceIPFamily)
	}
	if len(spec.IPFamilies) == 0 {
		spec.IPFamilies = []corev1.IPFamily{ServiceIPFamily}
	}
	if selectorlessHeadless && len(spec.IPFamilies) < 2 && *spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
		other := corev1.IPv6Protocol
		if spec.IPFamilies[0] == corev1.IPv6Protocol {
			other = corev1.IPv4Protocol
		}
		spec.IPFamilies = append(spec.IPFamilies, other)
	}
}

// dropExternalNamePolicy: an ExternalName service has no internal
// traffic policy (upstream drops a stored one when it reads it).
func dropExternalNamePolicy(svc *corev1.Service) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		svc.Spec.InternalTrafficPolicy = nil
	}
}

func familyOf(ip string) corev1.IPFamily {
	if isIPv6(ip) {
		return corev1.IPv6Protocol
	}
	return corev1.IPv4Protocol
}

// validateService is upstream's ValidateService, plus the checks of
// initIPFamilyFields against what this cluster serves.
func validateService(svc *corev1.Service) field.ErrorList {
	errs := validateCoreMeta(svc, true, apivalidation.NameIsDNS1035Label)
	spec := &svc.Spec
	annotations := metadataPath.Child("annotations")
	hints, hintsSet := svc.Annotations[corev1.DeprecatedAnnotationTopologyAwareHints]
	mode, modeSet := svc.Annotations[corev1.AnnotationTopologyMode]
	if hintsSet && modeSet && hints != mode {
		errs = append(errs, field.Invalid(annotations.Key(corev1.AnnotationTopologyMode), mode,
			fmt.Sprintf("must match annotations[%s] when both are specified", corev1.DeprecatedAnnotationTopologyAwareHints)))
	}
	if len(spec.Ports) == 0 && !isHeadless(svc) && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(servicePath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if isHeadless(svc) {
			errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(0), spec.ClusterIPs[0],
				fmt.Sprintf("may not be set to 'None' for %s services", spec.Type)))
		}
	case corev1.ServiceTypeExternalName:
		if len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(serviceClusterIPsPath, "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(servicePath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(servicePath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		// The name (a CNAME) may end in a dot to mark it fully qualified.
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, validateDNSSubdomain(cname, servicePath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(servicePath.Child("externalName"), ""))
		}
	}
	portNames := map[string]bool{}
	for i := range spec.Ports {
		errs = append(errs, servicePortErrs(&spec.Ports[i], len(spec.Ports) > 1, portNames, servicePath.Child("ports").Index(i))...)
	}
	if spec.Selector != nil {
		errs = append(errs, unversionedvalidation.ValidateLabels(spec.Selector, servicePath.Child("selector"))...)
	}
	errs = append(errs, sessionAffinityErrs(spec)...)
	errs = append(errs, clusterIPFieldErrs(svc)...)
	for i, ip := range spec.ExternalIPs {
		p := servicePath.Child("externalIPs").Index(i)
		if ipErrs := validation.IsValidIP(p, ip); len(ipErrs) > 0 {
			errs = append(errs, ipErrs...)
		} else {
			errs = append(errs, nonSpecialIPErrs(ip, p)...)
		}
	}
	if spec.Type == "" {
		errs = append(errs, field.Required(servicePath.Child("type"), ""))
	} else if !slices.Contains(serviceTypes, spec.Type) {
		errs = append(errs, field.NotSupported(servicePath.Child("type"), spec.Type, serviceTypes))
	}
	errs = append(errs, nodePortErrs(spec)...)
	errs = append(errs, loadBalancerFieldErrs(svc)...)
	errs = append(errs, trafficPolicyErrs(svc)...)
	errs = append(errs, validateServiceFamilies(svc)...)
	return errs
}

// servicePortErrs is upstream's validateServicePort: names required
// when there are several and unique, port numbers in range, known
// protocols, a target port number or name.
func servicePortErrs(sp *corev1.ServicePort, requireName bool, names map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(path.Child("name"), ""))
	} else if sp.Name != "" {
		errs = append(errs, validateDNSLabel(sp.Name, path.Child("name"))...)
		if names[sp.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), sp.Name))
		}
		names[sp.Name] = true
	}
	for _, msg := range validation.IsValidPortNum(int(sp.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), sp.Port, msg))
	}
	if sp.Protocol == "" {
		errs = append(errs, field.Required(path.Child("protocol"), ""))
	} else if !slices.Contains(portProtocols, sp.Protocol) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), sp.Protocol, portProtocols))
	}
	errs = append(errs, targetPortErrs(sp.TargetPort, path.Child("targetPort"))...)
	if sp.AppProtocol != nil {
		errs = append(errs, validateQualifiedName(*sp.AppProtocol, path.Child("appProtocol"))...)
	}
	return errs
}

func targetPortErrs(port intstr.IntOrString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			errs = append(errs, field.Invalid(path, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(path, port.StrVal, msg))
		}
	default:
		errs = append(errs, field.InternalError(path, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return errs
}

func sessionAffinityErrs(spec *corev1.ServiceSpec) field.ErrorList {
	path := servicePath.Child("sessionAffinity")
	switch {
	case spec.SessionAffinity == "":
		return field.ErrorList{field.Required(path, "")}
	case !slices.Contains(serviceAffinities, spec.SessionAffinity):
		return field.ErrorList{field.NotSupported(path, spec.SessionAffinity, serviceAffinities)}
	case spec.SessionAffinity == corev1.ServiceAffinityNone:
		if spec.SessionAffinityConfig != nil {
			return field.ErrorList{field.Forbidden(servicePath.Child("sessionAffinityConfig"),
				fmt.Sprintf("must not be set when session affinity is %s", corev1.ServiceAffinityNone))}
		}
		return nil
	}
	cfg := servicePath.Child("sessionAffinityConfig")
	why := fmt.Sprintf("when session affinity type is %s", corev1.ServiceAffinityClientIP)
	switch c := spec.SessionAffinityConfig; {
	case c == nil:
		return field.ErrorList{field.Required(cfg, why)}
	case c.ClientIP == nil:
		return field.ErrorList{field.Required(cfg.Child("clientIP"), why)}
	case c.ClientIP.TimeoutSeconds == nil:
		return field.ErrorList{field.Required(cfg.Child("clientIP", "timeoutSeconds"), why)}
	case *c.ClientIP.TimeoutSeconds <= 0 || *c.ClientIP.TimeoutSeconds > maxClientIPAffinitySeconds:
		return field.ErrorList{field.Invalid(cfg.Child("clientIP", "timeoutSeconds"), c.ClientIP.TimeoutSeconds,
			fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds))}
	}
	return nil
}

// clusterIPFieldErrs is upstream's ValidateServiceClusterIPsRelatedFields.
func clusterIPFieldErrs(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	if spec.ClusterIP != "" {
		if len(spec.ClusterIPs) == 0 {
			errs = append(errs, field.Required(serviceClusterIPsPath, ""))
		} else if spec.ClusterIPs[0] != spec.ClusterIP {
			errs = append(errs, field.Invalid(serviceClusterIPsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
		}
	} else if len(spec.ClusterIPs) != 0 {
		errs = append(errs, field.Invalid(serviceClusterIPsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	seen := map[corev1.IPFamily]bool{}
	for i, f := range spec.IPFamilies {
		p := servicePath.Child("ipFamilies").Index(i)
		if !slices.Contains(ipFamilies, f) {
			errs = append(errs, field.NotSupported(p, f, ipFamilies))
		}
		if seen[f] {
			errs = append(errs, field.Duplicate(p, f))
		}
		seen[f] = true
	}
	if spec.IPFamilyPolicy != nil && !slices.Contains(ipFamilyPolicies, *spec.IPFamilyPolicy) {
		errs = append(errs, field.NotSupported(servicePath.Child("ipFamilyPolicy"), spec.IPFamilyPolicy, ipFamilyPolicies))
	}
	badIPs := false
	for i, ip := range spec.ClusterIPs {
		if i == 0 && ip == corev1.ClusterIPNone {
			if len(spec.ClusterIPs) > 1 {
				badIPs = true
				errs = append(errs, field.Invalid(serviceClusterIPsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		ipErrs := validation.IsValidIP(serviceClusterIPsPath.Index(i), ip)
		badIPs = badIPs || len(ipErrs) > 0
		errs = append(errs, ipErrs...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(serviceClusterIPsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	if badIPs {
		return errs
	}
	if len(spec.ClusterIPs) > 1 && (!slices.ContainsFunc(spec.ClusterIPs, isIPv6) ||
		!slices.ContainsFunc(spec.ClusterIPs, func(ip string) bool { return !isIPv6(ip) })) {
		errs = append(errs, field.Invalid(serviceClusterIPsPath, spec.ClusterIPs, "may specify no more than one IP for each IP family"))
	}
	if !isHeadless(svc) {
		for i, ip := range spec.ClusterIPs {
			if i >= len(spec.IPFamilies) {
				break
			}
			if want := spec.IPFamilies[i]; want != familyOf(ip) {
				errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(i), ip,
					fmt.Sprintf("expected an %s value as indicated by `ipFamilies[%v]`", want, i)))
			}
		}
	}
	return errs
}

// validateServiceFamilies refuses what initIPFamilyFields refuses on a
// single-stack IPv4 cluster.
func validateServiceFamilies(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	if !needsClusterIP(svc) || spec.IPFamilyPolicy == nil {
		return nil
	}
	policy := servicePath.Child("ipFamilyPolicy")
	var errs field.ErrorList
	if *spec.IPFamilyPolicy == corev1.IPFamilyPolicySingleStack {
		if len(spec.ClusterIPs) == 2 {
			errs = append(errs, field.Invalid(policy, spec.IPFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
		}
		if len(spec.IPFamilies) == 2 {
			errs = append(errs, field.Invalid(policy, spec.IPFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
		}
	}
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			break
		}
		if i >= len(spec.IPFamilies) && familyOf(ip) != ServiceIPFamily {
			errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(i), spec.ClusterIPs,
				fmt.Sprintf("%s is not configured on this cluster", familyOf(ip))))
		}
	}
	if len(errs) > 0 || (spec.ClusterIP == corev1.ClusterIPNone && len(spec.Selector) == 0) {
		return errs
	}
	if *spec.IPFamilyPolicy == corev1.IPFamilyPolicyRequireDualStack {
		errs = append(errs, field.Invalid(policy, spec.IPFamilyPolicy, "this cluster is not configured for dual-stack services"))
	}
	for i, f := range spec.IPFamilies {
		if f != ServiceIPFamily && slices.Contains(ipFamilies, f) {
			errs = append(errs, field.Invalid(servicePath.Child("ipFamilies").Index(i), f, "not configured on this cluster"))
		}
	}
	return errs
}

// nodePortErrs: no node ports on ClusterIP services, and each
// (protocol, nodePort) and (protocol, port) once. The range of node ports
// is the allocator's to check.
func nodePortErrs(spec *corev1.ServiceSpec) field.ErrorList {
	var errs field.ErrorList
	ports := servicePath.Child("ports")
	type key struct {
		proto corev1.Protocol
		port  int32
	}
	nodePorts, svcPorts := map[key]bool{}, map[key]bool{}
	for i, p := range spec.Ports {
		if spec.Type == corev1.ServiceTypeClusterIP && p.NodePort != 0 {
			errs = append(errs, field.Forbidden(ports.Index(i).Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
	}
	for i, p := range spec.Ports {
		if p.NodePort == 0 {
			continue
		}
		k := key{p.Protocol, p.NodePort}
		if nodePorts[k] {
			errs = append(errs, field.Duplicate(ports.Index(i).Child("nodePort"), p.NodePort))
		}
		nodePorts[k] = true
	}
	for i, p := range spec.Ports {
		k := key{p.Protocol, p.Port}
		if svcPorts[k] {
			errs = append(errs, field.Duplicate(ports.Index(i), corev1.ServicePort{Protocol: p.Protocol, Port: p.Port}))
		}
		svcPorts[k] = true
	}
	return errs
}

// loadBalancerFieldErrs checks the fields only LoadBalancer services use.
func loadBalancerFieldErrs(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	lb := spec.Type == corev1.ServiceTypeLoadBalancer
	const onlyLB = "may only be used when `type` is 'LoadBalancer'"
	if len(spec.LoadBalancerSourceRanges) > 0 {
		p := servicePath.Child("LoadBalancerSourceRanges") // upstream's spelling
		if !lb {
			errs = append(errs, field.Forbidden(p, onlyLB))
		}
		for i, v := range spec.LoadBalancerSourceRanges {
			errs = append(errs, validation.IsValidCIDR(p.Index(i), strings.TrimSpace(v))...)
		}
	} else if v, ok := svc.Annotations[corev1.AnnotationLoadBalancerSourceRangesKey]; ok {
		p := metadataPath.Child("annotations").Key(corev1.AnnotationLoadBalancerSourceRangesKey)
		if !lb {
			errs = append(errs, field.Forbidden(p, onlyLB))
		}
		if v = strings.TrimSpace(v); v != "" {
			for _, cidr := range strings.Split(v, ",") {
				errs = append(errs, validation.IsValidCIDR(p, strings.TrimSpace(cidr))...)
			}
		}
	}
	if spec.AllocateLoadBalancerNodePorts != nil && !lb {
		errs = append(errs, field.Forbidden(servicePath.Child("allocateLoadBalancerNodePorts"), onlyLB))
	}
	if lb && spec.AllocateLoadBalancerNodePorts == nil {
		errs = append(errs, field.Required(field.NewPath("allocateLoadBalancerNodePorts"), "")) // upstream's path
	}
	if spec.LoadBalancerClass != nil {
		if lb {
			errs = append(errs, validateQualifiedName(*spec.LoadBalancerClass, servicePath.Child("loadBalancerClass"))...)
		} else {
			errs = append(errs, field.Forbidden(servicePath.Child("loadBalancerClass"), onlyLB))
		}
	}
	return errs
}

// trafficPolicyErrs checks externalTrafficPolicy, healthCheckNodePort,
// internalTrafficPolicy and trafficDistribution. A healthCheckNodePort
// still 0 is accepted: the node-port allocator fills it in.
func trafficPolicyErrs(svc *corev1.Service) field.ErrorList {
	spec := &svc.Spec
	var errs field.ErrorList
	etp := servicePath.Child("externalTrafficPolicy")
	if !externallyAccessible(svc) {
		if spec.ExternalTrafficPolicy != "" {
			errs = append(errs, field.Invalid(etp, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
		}
	} else if spec.ExternalTrafficPolicy == "" {
		errs = append(errs, field.Required(etp, ""))
	} else if !slices.Contains(trafficPolicies, spec.ExternalTrafficPolicy) {
		errs = append(errs, field.NotSupported(etp, spec.ExternalTrafficPolicy, trafficPolicies))
	}
	hc := servicePath.Child("healthCheckNodePort")
	if !needsHealthCheck(svc) {
		if spec.HealthCheckNodePort != 0 {
			errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		}
	} else if spec.HealthCheckNodePort != 0 {
		for _, msg := range validation.IsValidPortNum(int(spec.HealthCheckNodePort)) {
			errs = append(errs, field.Invalid(hc, spec.HealthCheckNodePort, msg))
		}
	}
	itp := servicePath.Child("internalTrafficPolicy")
	if spec.InternalTrafficPolicy == nil {
		if spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer || spec.Type == corev1.ServiceTypeClusterIP {
			errs = append(errs, field.Required(itp, ""))
		}
	} else if !slices.Contains(internalPolicies, *spec.InternalTrafficPolicy) {
		errs = append(errs, field.NotSupported(itp, *spec.InternalTrafficPolicy, internalPolicies))
	}
	if td := spec.TrafficDistribution; td != nil && *td != corev1.ServiceTrafficDistributionPreferClose &&
		*td != corev1.ServiceTrafficDistributionPreferSameZone && *td != corev1.ServiceTrafficDistributionPreferSameNode {
		errs = append(errs, field.NotSupported(servicePath.Child("trafficDistribution"), *td, []string{
			corev1.ServiceTrafficDistributionPreferClose, corev1.ServiceTrafficDistributionPreferSameNode, corev1.ServiceTrafficDistributionPreferSameZone}))
	}
	return errs
}

// validateServiceUpdate is upstream's ValidateServiceUpdate: the primary
// cluster IP and IP family never change (except to or from ExternalName),
// nor the load balancer class or health-check node port once set. The
// status (carried over unless written through /status) is checked too.
func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := validateCoreMetaUpdate(svc, old)
	errs = append(errs, clusterIPChangeErrs(svc, old)...)
	errs = append(errs, ipFamilyChangeErrs(svc, old)...)
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		!reflect.DeepEqual(old.Spec.LoadBalancerClass, svc.Spec.LoadBalancerClass) {
		errs = append(errs, field.Invalid(servicePath.Child("loadBalancerClass"), svc.Spec.LoadBalancerClass, "may not change once set"))
	}
	if needsHealthCheck(old) && needsHealthCheck(svc) && old.Spec.HealthCheckNodePort != svc.Spec.HealthCheckNodePort {
		errs = append(errs, field.Forbidden(servicePath.Child("healthCheckNodePort"), "field is immutable"))
	}
	errs = append(errs, validateService(svc)...)
	return append(errs, loadBalancerStatusErrs(svc)...)
}

func clusterIPChangeErrs(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName ||
		(isHeadless(svc) && isHeadless(old)) {
		return nil
	}
	newIPs, oldIPs := svc.Spec.ClusterIPs, old.Spec.ClusterIPs
	const changed = "may not change once set"
	var errs field.ErrorList
	switch {
	case len(oldIPs) == len(newIPs):
		for i := range oldIPs {
			if oldIPs[i] != newIPs[i] {
				errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(i), newIPs, changed))
			}
		}
	case len(oldIPs) > len(newIPs):
		if len(newIPs) == 0 {
			errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(0), newIPs, "primary clusterIP can not be unset"))
		}
		if len(oldIPs) > 0 && len(newIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(0), newIPs, changed))
		}
		if len(newIPs) == 1 && policyOf(svc) != corev1.IPFamilyPolicySingleStack {
			errs = append(errs, field.Invalid(servicePath.Child("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary clusterIP"))
		}
	default:
		if len(oldIPs) > 0 && newIPs[0] != oldIPs[0] {
			errs = append(errs, field.Invalid(serviceClusterIPsPath.Index(0), newIPs, changed))
		}
	}
	return errs
}

func ipFamilyChangeErrs(svc, old *corev1.Service) field.ErrorList {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName ||
		isHeadless(svc) || isHeadless(old) {
		return nil
	}
	newFams, oldFams := svc.Spec.IPFamilies, old.Spec.IPFamilies
	path := servicePath.Child("ipFamilies").Index(0)
	const changed = "may not change once set"
	var errs field.ErrorList
	switch {
	case len(oldFams) == len(newFams):
		for i := range oldFams {
			if oldFams[i] != newFams[i] {
				errs = append(errs, field.Invalid(path, newFams, changed))
			}
		}
	case len(oldFams) > len(newFams):
		if len(svc.Spec.ClusterIPs) == 0 {
			errs = append(errs, field.Invalid(path, newFams, "primary ipFamily can not be unset"))
		}
		if len(newFams) > 0 && newFams[0] != oldFams[0] {
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIPs, changed))
		}
		if len(newFams) == 1 && policyOf(svc) != corev1.IPFamilyPolicySingleStack {
			errs = append(errs, field.Invalid(servicePath.Child("ipFamilyPolicy"), svc.Spec.IPFamilyPolicy, "must be set to 'SingleStack' when releasing the secondary ipFamily"))
		}
	default:
		if len(oldFams) > 0 && len(newFams) > 0 && newFams[0] != oldFams[0] {
			errs = append(errs, field.Invalid(path, svc.Spec.ClusterIPs, changed))
		}
	}
	return errs
}

// loadBalancerStatusErrs is upstream's ValidateLoadBalancerStatus.
func loadBalancerStatusErrs(svc *corev1.Service) field.ErrorList {
	path := field.NewPath("status", "loadBalancer", "ingress")
	ingress := svc.Status.LoadBalancer.Ingress
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer && len(ingress) != 0 {
		return field.ErrorList{field.Forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'")}
	}
	var errs field.ErrorList
	for i, ing := range ingress {
		p := path.Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIP(p.Child("ip"), ing.IP)...)
		}
		switch {
		case ing.IPMode == nil && ing.IP != "":
			errs = append(errs, field.Required(p.Child("ipMode"), "must be specified when `ip` is set"))
		case ing.IPMode != nil && ing.IP == "":
			errs = append(errs, field.Forbidden(p.Child("ipMode"), "may not be specified when `ip` is not set"))
		case ing.IPMode != nil && !slices.Contains(loadBalancerIPModes, *ing.IPMode):
			errs = append(errs, field.NotSupported(p.Child("ipMode"), ing.IPMode, loadBalancerIPModes))
		}
		if ing.Hostname != "" {
			errs = append(errs, validateDNSSubdomain(ing.Hostname, p.Child("hostname"))...)
			if net.ParseIP(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(p.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

// serviceExternalIP is the External-IP cell: external IPs, the load
// balancer's addresses (or <pending>), or the external name.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var lb []string
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			switch {
			case ing.IP != "":
				lb = append(lb, ing.IP)
			case ing.Hostname != "":
				lb = append(lb, ing.Hostname)
			}
		}
		slices.Sort(lb)
		lb = slices.Compact(lb)
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(append(lb, svc.Spec.ExternalIPs...), ",")
		}
		if len(lb) > 0 {
			return strings.Join(lb, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// servicePortsString is the Port(s) cell: "80/TCP", "80:30080/TCP", ...
func servicePortsString(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}
