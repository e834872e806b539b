package registry

// Helpers shared by the cluster resources (services, nodes, volumes,
// quotas, ...): the parts of upstream's core validation that several of
// them use, re-expressed on the v1 types. Names carry a "cluster" or
// resource flavour so they do not collide with the other families' helpers
// in this package.

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateCoreMeta is the core group's ValidateObjectMeta: apimachinery's
// checks plus the rule that an unqualified finalizer must be a standard one.
func validateCoreMeta(obj runtime.Object, namespaced bool, name apivalidation.ValidateNameFunc) field.ErrorList {
	errs := validateMeta(obj, namespaced, name)
	return append(errs, kubeFinalizerErrs(obj)...)
}

// validateCoreMetaUpdate is the core group's ValidateObjectMetaUpdate.
func validateCoreMetaUpdate(obj, old runtime.Object) field.ErrorList {
	return append(validateMetaUpdate(obj, old), kubeFinalizerErrs(obj)...)
}

func kubeFinalizerErrs(obj runtime.Object) field.ErrorList {
	om, err := ObjectMeta(obj)
	if err != nil {
		return nil
	}
	var errs field.ErrorList
	for i, f := range om.Finalizers {
		if !strings.Contains(f, "/") && !standardFinalizers[f] {
			errs = append(errs, field.Invalid(metadataPath.Child("finalizers").Index(i), f,
				"name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// roundUpQuantities rounds every quantity up to milli precision, as
// upstream's SetDefaults_ResourceList does on every ResourceList.
func roundUpQuantities(rl corev1.ResourceList) {
	for k, v := range rl {
		v.RoundUp(resource.Milli)
		rl[k] = v
	}
}

// nameFuncErrs applies a name rule to a reference to another object.
func nameFuncErrs(name string, rule apivalidation.ValidateNameFunc, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range rule(name, false) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

// nonSpecialIPErrs is upstream's ValidateNonSpecialIP: endpoints and
// external IPs may not be unspecified, loopback or link-local.
func nonSpecialIPErrs(ip string, path *field.Path) field.ErrorList {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return field.ErrorList{field.Invalid(path, ip, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if addr.IsUnspecified() {
		errs = append(errs, field.Invalid(path, ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if addr.IsLoopback() {
		errs = append(errs, field.Invalid(path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if addr.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(path, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if addr.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(path, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

// isIPv6 reports whether s parses as an IPv6 (not IPv4) address.
func isIPv6(s string) bool {
	addr, err := netip.ParseAddr(s)
	return err == nil && !addr.Unmap().Is4()
}

// resName is a resource name with upstream's classification helpers
// (pkg/apis/core/helper), as methods so they stay out of the package's
// function namespace.
type resName corev1.ResourceName

func (n resName) native() bool {
	return !strings.Contains(string(n), "/") || strings.Contains(string(n), corev1.ResourceDefaultNamespacePrefix)
}

func (n resName) hugePages() bool {
	return strings.HasPrefix(string(n), corev1.ResourceHugePagesPrefix)
}

func (n resName) quotaHugePages() bool {
	return n.hugePages() || strings.HasPrefix(string(n), corev1.ResourceRequestsHugePagesPrefix)
}

func (n resName) overcommitAllowed() bool { return n.native() && !n.hugePages() }

func (n resName) extended() bool {
	if n.native() || strings.HasPrefix(string(n), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(n))) == 0
}

var (
	containerResourceNames = resourceNameSet(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)
	quotaCountNames        = resourceNameSet(corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices,
		corev1.ResourceReplicationControllers, corev1.ResourceSecrets, corev1.ResourceConfigMaps,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers)
	quotaResourceNames = resourceNameSet(append(resourceNameKeys(quotaCountNames), corev1.ResourceCPU, corev1.ResourceMemory,
		corev1.ResourceEphemeralStorage, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory,
		corev1.ResourceRequestsStorage, corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsCPU,
		corev1.ResourceLimitsMemory, corev1.ResourceLimitsEphemeralStorage)...)
	knownResourceNames = resourceNameSet(append(resourceNameKeys(quotaResourceNames), corev1.ResourceStorage)...)
)

func resourceNameSet(ns ...corev1.ResourceName) map[corev1.ResourceName]bool {
	m := map[corev1.ResourceName]bool{}
	for _, n := range ns {
		m[n] = true
	}
	return m
}

func resourceNameKeys(m map[corev1.ResourceName]bool) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (n resName) standard() bool {
	return knownResourceNames[corev1.ResourceName(n)] || n.quotaHugePages()
}
func (n resName) standardQuota() bool {
	return quotaResourceNames[corev1.ResourceName(n)] || n.quotaHugePages()
}
func (n resName) integer() bool { return quotaCountNames[corev1.ResourceName(n)] || n.extended() }

// errs is upstream's validateResourceName: a qualified name, and a
// standard one when it has no domain.
func (n resName) errs(path *field.Path) field.ErrorList {
	errs := validateQualifiedName(string(n), path)
	if len(errs) == 0 && !strings.Contains(string(n), "/") && !n.standard() {
		errs = append(errs, field.Invalid(path, corev1.ResourceName(n), "must be a standard resource type or fully qualified"))
	}
	return errs
}

// containerErrs is upstream's validateContainerResourceName.
func (n resName) containerErrs(path *field.Path) field.ErrorList {
	errs := n.errs(path)
	if !strings.Contains(string(n), "/") {
		if !containerResourceNames[corev1.ResourceName(n)] && !n.hugePages() {
			errs = append(errs, field.Invalid(path, corev1.ResourceName(n), "must be a standard resource for containers"))
		}
	} else if !n.native() && !n.extended() {
		errs = append(errs, field.Invalid(path, corev1.ResourceName(n), "doesn't follow extended resource name standard"))
	}
	return errs
}

// quotaErrs is upstream's ValidateResourceQuotaResourceName.
func (n resName) quotaErrs(path *field.Path) field.ErrorList {
	errs := n.errs(path)
	if !strings.Contains(string(n), "/") && !n.standardQuota() {
		errs = append(errs, field.Invalid(path, corev1.ResourceName(n), "must be a standard resource for quota"))
	}
	return errs
}

// quantityErrs is upstream's ValidateResourceQuantityValue: never
// negative, and whole for resources counted in integers.
func (n resName) quantityErrs(q resource.Quantity, path *field.Path) field.ErrorList {
	errs := nonNegativeQuantityErrs(q, path)
	if n.integer() && q.MilliValue()%1000 != 0 {
		errs = append(errs, field.Invalid(path, q, "must be an integer"))
	}
	return errs
}

func nonNegativeQuantityErrs(q resource.Quantity, path *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) < 0 {
		return field.ErrorList{field.Invalid(path, q.String(), apivalidation.IsNegativeErrorMsg)}
	}
	return nil
}

func positiveQuantityErrs(q resource.Quantity, path *field.Path) field.ErrorList {
	if q.Cmp(resource.Quantity{}) <= 0 {
		return field.ErrorList{field.Invalid(path, q.String(), "must be greater than zero")}
	}
	return nil
}

// nodeSelectorErrs is upstream's ValidateNodeSelector, used by a
// PersistentVolume's node affinity.
func nodeSelectorErrs(sel *corev1.NodeSelector, path *field.Path) field.ErrorList {
	terms := path.Child("nodeSelectorTerms")
	if len(sel.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(terms, "must have at least one node selector term")}
	}
	var errs field.ErrorList
	for i, term := range sel.NodeSelectorTerms {
		for j, req := range term.MatchExpressions {
			p := terms.Index(i).Child("matchExpressions").Index(j)
			errs = append(errs, selectorOperatorErrs(req.Operator, len(req.Values), p)...)
			errs = append(errs, unversionedvalidation.ValidateLabelName(req.Key, p.Child("key"))...)
			for k, v := range req.Values {
				for _, msg := range validation.IsValidLabelValue(v) {
					errs = append(errs, field.Invalid(p.Child("values").Index(k), v, msg))
				}
			}
		}
		for j, req := range term.MatchFields {
			p := terms.Index(i).Child("matchFields").Index(j)
			if req.Key != "metadata.name" {
				errs = append(errs, field.NotSupported(p.Child("key"), req.Key, []string{"metadata.name"}))
			}
			if req.Operator != corev1.NodeSelectorOpIn && req.Operator != corev1.NodeSelectorOpNotIn {
				errs = append(errs, field.Invalid(p.Child("operator"), req.Operator, "not a valid selector operator"))
			} else if len(req.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		}
	}
	return errs
}

func selectorOperatorErrs(op corev1.NodeSelectorOperator, values int, p *field.Path) field.ErrorList {
	switch op {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if values == 0 {
			return field.ErrorList{field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'")}
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if values > 0 {
			return field.ErrorList{field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")}
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if values != 1 {
			return field.ErrorList{field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'")}
		}
	default:
		return field.ErrorList{field.Invalid(p.Child("operator"), op, "not a valid selector operator")}
	}
	return nil
}

// accessModesString is upstream's GetAccessModesAsString: RWO,ROX,RWX,RWOP
// in that order, each once.
func accessModesString(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{{corev1.ReadWriteOnce, "RWO"}, {corev1.ReadOnlyMany, "ROX"}, {corev1.ReadWriteMany, "RWX"}, {corev1.ReadWriteOncePod, "RWOP"}} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

var pvAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}

var pvVolumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}

// accessModeErrs checks a volume's or claim's access modes: known ones,
// and ReadWriteOncePod alone.
func accessModeErrs(modes []corev1.PersistentVolumeAccessMode, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	rwop, other := false, false
	for _, m := range modes {
		switch {
		case !clusterContains(pvAccessModes, m):
			errs = append(errs, field.NotSupported(path, m, pvAccessModes))
		case m == corev1.ReadWriteOncePod:
			rwop = true
		default:
			other = true
		}
	}
	if rwop && other {
		errs = append(errs, field.Forbidden(path, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func clusterContains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// volumeClass is the class of a volume or claim: the beta annotation
// first, then the field, as upstream's printers read it.
func volumeClass(annotations map[string]string, class *string) string {
	if c, ok := annotations[corev1.BetaStorageClassAnnotation]; ok {
		return c
	}
	if class != nil {
		return *class
	}
	return ""
}
