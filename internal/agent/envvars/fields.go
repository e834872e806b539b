package envvars

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Node is what the downward API reads from the node a pod runs on.
type Node struct {
	Name   string
	HostIP string
	// HostIPs are all the node's addresses (status.hostIPs); HostIP
	// alone is used when empty.
	HostIPs []string
	// Allocatable stands in for the limits a container does not set
	// (resourceFieldRef limits.cpu, limits.memory, ...).
	Allocatable corev1.ResourceList
}

// PodFieldValue is the value of a fieldRef (env and downwardAPI volumes):
// metadata.name, .namespace, .uid, .labels, .annotations (whole maps or
// ['key']), spec.nodeName, spec.serviceAccountName, status.hostIP(s),
// status.podIP(s).
func PodFieldValue(fieldPath string, pod *corev1.Pod, podIPs []string, node Node) (string, error) {
	switch fieldPath {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		ips := node.HostIPs
		if len(ips) == 0 && node.HostIP != "" {
			ips = []string{node.HostIP}
		}
		if len(ips) == 0 {
			for _, ip := range pod.Status.HostIPs {
				ips = append(ips, ip.IP)
			}
		}
		if len(ips) == 0 {
			return "", fmt.Errorf("cannot get host IP for node %q", node.Name)
		}
		if fieldPath == "status.hostIP" {
			return ips[0], nil
		}
		return strings.Join(ips, ","), nil
	case "status.podIP":
		if len(podIPs) == 0 {
			return "", nil
		}
		return podIPs[0], nil
	case "status.podIPs":
		return strings.Join(podIPs, ","), nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return FormatMap(pod.Labels), nil
	case "metadata.annotations":
		return FormatMap(pod.Annotations), nil
	}
	if path, key, ok := splitSubscript(fieldPath); ok {
		switch path {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Annotations[key], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(key); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fieldPath, strings.Join(errs, ";"))
			}
			return pod.Labels[key], nil
		}
		return "", fmt.Errorf("fieldPath %q does not support subscript", fieldPath)
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", fieldPath)
}

// splitSubscript splits "metadata.labels['k']" into its path and key.
func splitSubscript(fieldPath string) (path, key string, ok bool) {
	s, found := strings.CutSuffix(fieldPath, "']")
	if !found {
		return "", "", false
	}
	path, key, found = strings.Cut(s, "['")
	if !found || path == "" {
		return "", "", false
	}
	return path, key, true
}

// FormatMap renders labels or annotations as the downward API does:
// key="value" lines (value Go-quoted), sorted by key.
func FormatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%v=%q", k, m[k])
	}
	return b.String()
}

// ContainerResourceValue is the value of a resourceFieldRef for container
// c: its limits or requests of cpu, memory, ephemeral-storage or
// hugepages-*, divided by the divisor (default 1) and rounded up. Limits a
// container does not set are the node's allocatable, as kubelet does.
func ContainerResourceValue(fs *corev1.ResourceFieldSelector, c *corev1.Container, node Node) (string, error) {
	divisor := fs.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	kind, name, ok := strings.Cut(fs.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported container resource : %v", fs.Resource)
	}
	rn := corev1.ResourceName(name)
	switch rn {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
	default:
		if !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
			return "", fmt.Errorf("unsupported container resource : %v", fs.Resource)
		}
	}
	list := c.Resources.Requests
	if kind == "limits" {
		list = c.Resources.Limits
	}
	q, set := list[rn]
	if !set && kind == "limits" && !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		q = node.Allocatable[rn]
	}
	if rn == corev1.ResourceCPU {
		if divisor.MilliValue() == 0 {
			return "", fmt.Errorf("invalid divisor %s for %s", divisor.String(), fs.Resource)
		}
		return strconv.FormatInt(int64(math.Ceil(float64(q.MilliValue())/float64(divisor.MilliValue()))), 10), nil
	}
	if divisor.Value() == 0 {
		return "", fmt.Errorf("invalid divisor %s for %s", divisor.String(), fs.Resource)
	}
	return strconv.FormatInt(int64(math.Ceil(float64(q.Value())/float64(divisor.Value()))), 10), nil
}
