package registry

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Endpoints as upstream serves them (the endpoints controller writes them
// for services with a selector; users may write them for services
// without one).
func Endpoints() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("endpoints"),
		Kind:         "Endpoints",
		SingularName: "endpoints",
		Namespaced:   true,
		ShortNames:   []string{"ep"},
		New:          func() runtime.Object { return &corev1.Endpoints{} },
		NewList:      func() runtime.Object { return &corev1.EndpointsList{} },
		Default: func(obj runtime.Object) {
			ep := obj.(*corev1.Endpoints)
			for i := range ep.Subsets {
				for j := range ep.Subsets[i].Ports {
					if p := &ep.Subsets[i].Ports[j]; p.Protocol == "" {
						p.Protocol = corev1.ProtocolTCP
					}
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateEndpoints(obj.(*corev1.Endpoints)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			return append(validateCoreMetaUpdate(obj, old), validateEndpoints(obj.(*corev1.Endpoints))...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Endpoints", Type: "string", Description: corev1.Endpoints{}.SwaggerDoc()["subsets"]},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			ep := obj.(*corev1.Endpoints)
			return []any{ep.Name, endpointsString(ep), age(ep)}
		},
	}
}

// validateEndpoints is upstream's ValidateEndpoints: every subset has
// addresses, addresses are valid non-special IPs, ports are named when
// there are several.
func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	errs := validateCoreMeta(ep, true, apivalidation.NameIsDNSSubdomain)
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		p := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(p, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, endpointAddressErrs(&ss.Addresses[j], p.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, endpointAddressErrs(&ss.NotReadyAddresses[j], p.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			errs = append(errs, endpointPortErrs(&ss.Ports[j], len(ss.Ports) > 1, p.Child("ports").Index(j))...)
		}
	}
	return errs
}

func endpointAddressErrs(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIP(p.Child("ip"), a.IP)
	if a.Hostname != "" {
		errs = append(errs, validateDNSLabel(a.Hostname, p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		errs = append(errs, nameFuncErrs(*a.NodeName, apivalidation.NameIsDNSSubdomain, p.Child("nodeName"))...)
	}
	return append(errs, nonSpecialIPErrs(a.IP, p.Child("ip"))...)
}

func endpointPortErrs(port *corev1.EndpointPort, requireName bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && port.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if port.Name != "" {
		errs = append(errs, validateDNSLabel(port.Name, p.Child("name"))...)
	}
	for _, msg := range validation.IsValidPortNum(int(port.Port)) {
		errs = append(errs, field.Invalid(p.Child("port"), port.Port, msg))
	}
	if port.Protocol == "" {
		errs = append(errs, field.Required(p.Child("protocol"), ""))
	} else if !slices.Contains(portProtocols, port.Protocol) {
		errs = append(errs, field.NotSupported(p.Child("protocol"), port.Protocol, portProtocols))
	}
	if port.AppProtocol != nil {
		errs = append(errs, validateQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// endpointsString is upstream's formatEndpoints: up to three ip:port
// pairs, then "+ N more...".
func endpointsString(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return "<none>"
	}
	const most = 3
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < most {
			list = append(list, s)
		}
	}
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, port := range ss.Ports {
			count += len(ss.Addresses)
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(port.Port))))
			}
		}
	}
	out := strings.Join(list, ",")
	if count > most {
		return fmt.Sprintf("%s + %d more...", out, count-most)
	}
	return out
}
