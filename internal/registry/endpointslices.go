package registry

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits of an EndpointSlice, as upstream validates them.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
	maxSliceTopology  = 16
	maxSliceZoneHints = 8
)

var sliceAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

// EndpointSlices as upstream serves them. Any change besides metadata
// bumps metadata.generation.
func EndpointSlices() *Resource {
	return &Resource{
		GVR:          discoveryv1.SchemeGroupVersion.WithResource("endpointslices"),
		Kind:         "EndpointSlice",
		SingularName: "endpointslice",
		Namespaced:   true,
		New:          func() runtime.Object { return &discoveryv1.EndpointSlice{} },
		NewList:      func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Default: func(obj runtime.Object) {
			s := obj.(*discoveryv1.EndpointSlice)
			for i := range s.Ports {
				if s.Ports[i].Name == nil {
					s.Ports[i].Name = new(string)
				}
				if s.Ports[i].Protocol == nil {
					tcp := corev1.ProtocolTCP
					s.Ports[i].Protocol = &tcp
				}
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			return validateEndpointSlice(obj.(*discoveryv1.EndpointSlice))
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			s, prev := obj.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice)
			errs := append(validateMetaUpdate(s, prev), validateEndpointSlice(s)...)
			return append(errs, apivalidation.ValidateImmutableField(s.AddressType, prev.AddressType, field.NewPath("addressType"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			s, prev := *obj.(*discoveryv1.EndpointSlice), *old.(*discoveryv1.EndpointSlice)
			s.ObjectMeta, prev.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
			return !apiequality.Semantic.DeepEqual(s, prev)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "AddressType", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["addressType"]},
			{Name: "Ports", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["ports"]},
			{Name: "Endpoints", Type: "string", Description: discoveryv1beta1.EndpointSlice{}.SwaggerDoc()["endpoints"]},
			ageColumn},
		Cells: func(obj runtime.Object) []any {
			s := obj.(*discoveryv1.EndpointSlice)
			var ports, addrs []string
			for _, p := range s.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			for _, e := range s.Endpoints {
				addrs = append(addrs, e.Addresses...)
			}
			return []any{s.Name, string(s.AddressType), listWithMore(ports), listWithMore(addrs), age(s)}
		},
	}
}

// listWithMore is upstream's listWithMoreString over the first three.
func listWithMore(list []string) string {
	const most = 3
	if len(list) > most {
		return fmt.Sprintf("%s + %d more...", strings.Join(list[:most], ","), len(list)-most)
	}
	if len(list) == 0 {
		return "<unset>"
	}
	return strings.Join(list, ",")
}

// validateEndpointSlice is upstream's ValidateEndpointSlice.
func validateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := validateCoreMeta(s, true, apivalidation.NameIsDNSSubdomain)
	if s.AddressType == "" {
		errs = append(errs, field.Required(field.NewPath("addressType"), ""))
	} else if !slices.Contains(sliceAddressTypes, s.AddressType) {
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), s.AddressType, sliceAddressTypes))
	}
	errs = append(errs, sliceEndpointErrs(s.Endpoints, s.AddressType, field.NewPath("endpoints"))...)
	return append(errs, slicePortErrs(s.Ports, field.NewPath("ports"))...)
}

func sliceEndpointErrs(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, path *field.Path) field.ErrorList {
	if len(endpoints) > maxSliceEndpoints {
		return field.ErrorList{field.TooMany(path, len(endpoints), maxSliceEndpoints)}
	}
	var errs field.ErrorList
	for i, ep := range endpoints {
		p := path.Index(i)
		addrs := p.Child("addresses")
		if len(ep.Addresses) == 0 {
			errs = append(errs, field.Required(addrs, "must contain at least 1 address"))
		} else if len(ep.Addresses) > maxSliceAddresses {
			errs = append(errs, field.TooMany(addrs, len(ep.Addresses), maxSliceAddresses))
		}
		for j, a := range ep.Addresses {
			errs = append(errs, sliceAddressErrs(addrType, a, addrs.Index(j))...)
		}
		if ep.NodeName != nil {
			errs = append(errs, nameFuncErrs(*ep.NodeName, apivalidation.NameIsDNSSubdomain, p.Child("nodeName"))...)
		}
		topology := p.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > maxSliceTopology {
			errs = append(errs, field.TooMany(topology, len(ep.DeprecatedTopology), maxSliceTopology))
		}
		errs = append(errs, unversionedvalidation.ValidateLabels(ep.DeprecatedTopology, topology)...)
		if ep.Hostname != nil {
			errs = append(errs, validateDNSLabel(*ep.Hostname, p.Child("hostname"))...)
		}
		if ep.Hints != nil {
			errs = append(errs, sliceHintErrs(ep.Hints, p.Child("hints"))...)
		}
	}
	return errs
}

// sliceAddressErrs checks an address against the slice's address type;
// unknown types are not checked.
func sliceAddressErrs(addrType discoveryv1.AddressType, a string, p *field.Path) field.ErrorList {
	switch addrType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		if errs := validation.IsValidIP(p, a); len(errs) > 0 {
			return errs
		}
		if want := addrType == discoveryv1.AddressTypeIPv6; isIPv6(a) != want {
			return field.ErrorList{field.Invalid(p, a, fmt.Sprintf("must be an %s address", addrType))}
		}
		return nonSpecialIPErrs(a, p)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, a)
	}
	return nil
}

func sliceHintErrs(h *discoveryv1.EndpointHints, p *field.Path) field.ErrorList {
	zones := p.Child("forZones")
	if len(h.ForZones) > maxSliceZoneHints {
		return field.ErrorList{field.TooMany(zones, len(h.ForZones), maxSliceZoneHints)}
	}
	var errs field.ErrorList
	seen := map[string]bool{}
	for i, z := range h.ForZones {
		zp := zones.Index(i).Child("name")
		if seen[z.Name] {
			errs = append(errs, field.Duplicate(zp, z.Name))
		}
		seen[z.Name] = true
		for _, msg := range validation.IsValidLabelValue(z.Name) {
			errs = append(errs, field.Invalid(zp, z.Name, msg))
		}
	}
	return errs
}

func slicePortErrs(ports []discoveryv1.EndpointPort, path *field.Path) field.ErrorList {
	if len(ports) > maxSlicePorts {
		return field.ErrorList{field.TooMany(path, len(ports), maxSlicePorts)}
	}
	var errs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		p := path.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, validateDNSLabel(name, p.Child("name"))...)
		}
		if names[name] {
			errs = append(errs, field.Duplicate(p.Child("name"), name))
		}
		names[name] = true
		if port.Protocol == nil {
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		} else if !slices.Contains(portProtocols, *port.Protocol) {
			errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, portProtocols))
		}
		if port.AppProtocol != nil {
			errs = append(errs, validateQualifiedName(*port.AppProtocol, p.Child("appProtocol"))...)
		}
	}
	return errs
}
