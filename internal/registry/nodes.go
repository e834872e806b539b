package registry

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Node role labels, as upstream's printer reads them.
const (
	nodeRolePrefix = "node-role.kubernetes.io/"
	nodeRoleLabel  = "kubernetes.io/role"
)

var taintEffects = []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}

// Nodes as upstream serves them. Unlike most resources a node may be
// created with its status (the agent registers itself that way); after
// that the main resource keeps the status and /status keeps the spec.
func Nodes() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("nodes"),
		Kind:         "Node",
		SingularName: "node",
		ShortNames:   []string{"no"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &corev1.Node{} },
		NewList:      func() runtime.Object { return &corev1.NodeList{} },
		Default: func(obj runtime.Object) {
			st := &obj.(*corev1.Node).Status
			roundUpQuantities(st.Capacity)
			roundUpQuantities(st.Allocatable)
			if st.Allocatable == nil && st.Capacity != nil {
				st.Allocatable = st.Capacity.DeepCopy()
			}
		},
		PrepareForCreate: func(obj runtime.Object) {
			n := obj.(*corev1.Node)
			n.Spec.ConfigSource, n.Status.Config = nil, nil
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			n, prev := obj.(*corev1.Node), old.(*corev1.Node)
			if sub == "status" {
				n.Spec = prev.Spec
				if prev.Status.Config == nil {
					n.Status.Config = nil
				}
				return
			}
			n.Status = prev.Status
			if prev.Spec.ConfigSource == nil {
				n.Spec.ConfigSource = nil
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validateNode(obj.(*corev1.Node)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			n, prev := obj.(*corev1.Node), old.(*corev1.Node)
			return append(validateNode(n), validateNodeUpdate(n, prev)...)
		},
		Columns: []metav1.TableColumnDefinition{nameColumn,
			{Name: "Status", Type: "string", Description: "The status of the node"},
			{Name: "Roles", Type: "string", Description: "The roles of the node"},
			ageColumn,
			{Name: "Version", Type: "string", Description: corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]},
			{Name: "Internal-IP", Type: "string", Priority: 1, Description: corev1.NodeStatus{}.SwaggerDoc()["addresses"]},
			{Name: "External-IP", Type: "string", Priority: 1, Description: corev1.NodeStatus{}.SwaggerDoc()["addresses"]},
			{Name: "OS-Image", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]},
			{Name: "Kernel-Version", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]},
			{Name: "Container-Runtime", Type: "string", Priority: 1, Description: corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]},
		},
		Cells: func(obj runtime.Object) []any {
			n := obj.(*corev1.Node)
			info := n.Status.NodeInfo
			return []any{n.Name, nodeStatusString(n), nodeRoles(n), age(n), info.KubeletVersion,
				nodeAddress(n, corev1.NodeInternalIP), nodeAddress(n, corev1.NodeExternalIP),
				orUnknown(info.OSImage), orUnknown(info.KernelVersion), orUnknown(info.ContainerRuntimeVersion)}
		},
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"spec.unschedulable": fmt.Sprint(obj.(*corev1.Node).Spec.Unschedulable)}
		},
	}
}

// nodeStatusString is the Status cell: Ready, NotReady or Unknown, with
// ",SchedulingDisabled" for a cordoned node.
func nodeStatusString(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			status = string(c.Type)
			if c.Status != corev1.ConditionTrue {
				status = "Not" + status
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles is the Roles cell: node-role.kubernetes.io/<role> labels and
// the kubernetes.io/role label, sorted, or <none>.
func nodeRoles(n *corev1.Node) string {
	var roles []string
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRolePrefix):
			if r := strings.TrimPrefix(k, nodeRolePrefix); r != "" {
				roles = append(roles, r)
			}
		case k == nodeRoleLabel && v != "":
			roles = append(roles, v)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	slices.Sort(roles)
	return strings.Join(slices.Compact(roles), ",")
}

func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// validateNode is upstream's ValidateNode. Taint errors carry upstream's
// path, metadata.taints.
func validateNode(n *corev1.Node) field.ErrorList {
	errs := validateCoreMeta(n, false, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, nodeTaintErrs(n.Spec.Taints, metadataPath.Child("taints"))...)
	errs = append(errs, nodeResourceErrs(n)...)
	if len(n.Spec.PodCIDRs) == 0 {
		return errs
	}
	path := field.NewPath("spec", "podCIDRs")
	for i, cidr := range n.Spec.PodCIDRs {
		errs = append(errs, validation.IsValidCIDR(path.Index(i), cidr)...)
	}
	if len(n.Spec.PodCIDRs) > 1 {
		v6 := 0
		for _, cidr := range n.Spec.PodCIDRs {
			if isIPv6(strings.SplitN(cidr, "/", 2)[0]) {
				v6++
			}
		}
		if len(n.Spec.PodCIDRs) > 2 || v6 != 1 {
			errs = append(errs, field.Invalid(path, n.Spec.PodCIDRs, "may specify no more than one CIDR for each IP family"))
		}
		seen := map[string]bool{}
		for i, cidr := range n.Spec.PodCIDRs {
			if seen[cidr] {
				errs = append(errs, field.Duplicate(path.Index(i), cidr))
			}
			seen[cidr] = true
		}
	}
	return errs
}

// nodeResourceErrs checks capacity and allocatable, at upstream's paths
// (status.capacity.cpu, not status.capacity[cpu]).
func nodeResourceErrs(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for k, v := range n.Status.Capacity {
		errs = append(errs, resName(k).quantityErrs(v, field.NewPath("status", "capacity", string(k)))...)
	}
	for k, v := range n.Status.Allocatable {
		errs = append(errs, resName(k).quantityErrs(v, field.NewPath("status", "allocatable", string(k)))...)
	}
	return errs
}

// nodeTaintErrs is upstream's validateNodeTaints: qualified keys, label
// values, known effects, and each key and effect pair once.
func nodeTaintErrs(taints []corev1.Taint, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := map[corev1.TaintEffect]map[string]bool{}
	for i, t := range taints {
		p := path.Index(i)
		errs = append(errs, unversionedvalidation.ValidateLabelName(t.Key, p.Child("key"))...)
		if msgs := validation.IsValidLabelValue(t.Value); len(msgs) != 0 {
			errs = append(errs, field.Invalid(p.Child("value"), t.Value, strings.Join(msgs, ";")))
		}
		if t.Effect == "" {
			errs = append(errs, field.Required(p.Child("effect"), ""))
		} else if !slices.Contains(taintEffects, t.Effect) {
			errs = append(errs, field.NotSupported(p.Child("effect"), t.Effect, taintEffects))
		}
		if seen[t.Effect][t.Key] {
			dup := field.Duplicate(p, t)
			dup.Detail = "taints must be unique by key and effect pair"
			errs = append(errs, dup)
			continue
		}
		if seen[t.Effect] == nil {
			seen[t.Effect] = map[string]bool{}
		}
		seen[t.Effect][t.Key] = true
	}
	return errs
}

// validateNodeUpdate is upstream's ValidateNodeUpdate: podCIDRs and
// providerID may only go from unset to set; addresses are unique.
func validateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := validateCoreMetaUpdate(n, old)
	errs = append(errs, nodeResourceErrs(n)...)
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range n.Status.Addresses {
		if seen[a] {
			errs = append(errs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	const podCIDRChanged = "node updates may not change podCIDR except from \"\" to valid"
	if len(old.Spec.PodCIDRs) > 0 {
		if len(old.Spec.PodCIDRs) != len(n.Spec.PodCIDRs) {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), podCIDRChanged))
		} else {
			for i, cidr := range old.Spec.PodCIDRs {
				if cidr != n.Spec.PodCIDRs[i] {
					errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDRs"), podCIDRChanged))
				}
			}
		}
	}
	if old.Spec.ProviderID != "" && old.Spec.ProviderID != n.Spec.ProviderID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	errs = append(errs, nodeTaintErrs(n.Spec.Taints, metadataPath.Child("taints"))...)
	if n.Spec.DoNotUseExternalID != old.Spec.DoNotUseExternalID {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return errs
}
