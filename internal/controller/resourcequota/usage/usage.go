package usage

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// storageClassSuffix joins a storage class to the PVC resources charged
// to it: "<class>.storageclass.storage.k8s.io/requests.storage".
const storageClassSuffix = ".storageclass.storage.k8s.io/"

// legacyCounts are the core resources quota counted before count/<r>
// existed; both names are charged.
var legacyCounts = map[string]corev1.ResourceName{
	"pods":                   corev1.ResourcePods,
	"services":               corev1.ResourceServices,
	"configmaps":             corev1.ResourceConfigMaps,
	"secrets":                corev1.ResourceSecrets,
	"persistentvolumeclaims": corev1.ResourcePersistentVolumeClaims,
	"replicationcontrollers": corev1.ResourceReplicationControllers,
	"resourcequotas":         corev1.ResourceQuotas,
}

// ObjectCountName is the quota name that counts objects of a resource:
// count/<resource> in the core group, count/<resource>.<group> elsewhere.
func ObjectCountName(gr schema.GroupResource) corev1.ResourceName {
	if gr.Group == "" {
		return corev1.ResourceName("count/" + gr.Resource)
	}
	return corev1.ResourceName("count/" + gr.Resource + "." + gr.Group)
}

func one() resource.Quantity { return *resource.NewQuantity(1, resource.DecimalSI) }

// Of is what an object of resource gr charges to a quota that tracks it.
func Of(gr schema.GroupResource, obj runtime.Object, now time.Time) corev1.ResourceList {
	switch o := obj.(type) {
	case *corev1.Pod:
		return podUsage(o, now)
	case *corev1.Service:
		return serviceUsage(o)
	case *corev1.PersistentVolumeClaim:
		return claimUsage(o)
	}
	l := corev1.ResourceList{ObjectCountName(gr): one()}
	if legacy, ok := legacyCounts[gr.Resource]; ok && gr.Group == "" {
		l[legacy] = one()
	}
	return l
}

// Covers says whether a quota's resource name is one objects of gr are
// charged to (upstream's MatchingResources).
func Covers(gr schema.GroupResource, name corev1.ResourceName) bool {
	if name == ObjectCountName(gr) {
		return true
	}
	if gr.Group != "" {
		return false
	}
	if legacy, ok := legacyCounts[gr.Resource]; ok && legacy == name {
		return true
	}
	n := string(name)
	switch gr.Resource {
	case "pods":
		switch name {
		case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
			return true
		}
		return strings.HasPrefix(n, corev1.DefaultResourceRequestsPrefix) && name != corev1.ResourceRequestsStorage ||
			strings.HasPrefix(n, "limits.") || strings.HasPrefix(n, corev1.ResourceHugePagesPrefix)
	case "services":
		return name == corev1.ResourceServicesNodePorts || name == corev1.ResourceServicesLoadBalancers
	case "persistentvolumeclaims":
		return name == corev1.ResourceRequestsStorage ||
			strings.HasSuffix(n, storageClassSuffix+string(corev1.ResourceRequestsStorage)) ||
			strings.HasSuffix(n, storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))
	}
	return false
}

// Counted says whether a pod is charged for its compute resources: not
// once it has finished, nor once its grace period has run out while a
// lost node keeps it from going (upstream's QuotaV1Pod).
func Counted(pod *corev1.Pod, now time.Time) bool {
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	if pod.DeletionTimestamp != nil && pod.DeletionGracePeriodSeconds != nil {
		grace := time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		if now.After(pod.DeletionTimestamp.Add(grace)) {
			return false
		}
	}
	return true
}

func podUsage(pod *corev1.Pod, now time.Time) corev1.ResourceList {
	l := corev1.ResourceList{ObjectCountName(schema.GroupResource{Resource: "pods"}): one()}
	if !Counted(pod, now) {
		return l
	}
	return Add(l, computeUsage(PodRequests(pod), PodLimits(pod)))
}

// computeUsage is what requests and limits charge: the pod itself, the
// requests under their own and their requests. names, the limits under
// limits., as upstream's podComputeUsageHelper.
func computeUsage(requests, limits corev1.ResourceList) corev1.ResourceList {
	l := corev1.ResourceList{corev1.ResourcePods: one()}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := requests[r]; ok {
			l[r] = q.DeepCopy()
			l[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(r))] = q.DeepCopy()
		}
		if q, ok := limits[r]; ok {
			l[corev1.ResourceName("limits."+string(r))] = q.DeepCopy()
		}
	}
	for r, q := range requests {
		switch {
		case strings.HasPrefix(string(r), corev1.ResourceHugePagesPrefix):
			l[r] = q.DeepCopy()
			l[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(r))] = q.DeepCopy()
		case extended(r):
			l[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(r))] = q.DeepCopy()
		}
	}
	return l
}

// extended says whether r is an extended resource: a qualified name
// outside the kubernetes.io namespace (upstream's IsExtendedResourceName,
// without its requests. check, which cannot apply to a container's own).
func extended(r corev1.ResourceName) bool {
	n := string(r)
	if !strings.Contains(n, "/") || strings.HasPrefix(n, corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	domain := n[:strings.Index(n, "/")]
	return domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}

// PodRequests is what a pod requests as a whole: its containers' sum, or
// the most one init container requests if that is more, plus overhead.
func PodRequests(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Requests }, true)
}

// PodLimits is PodRequests for limits; overhead counts only where a limit
// is set.
func PodLimits(pod *corev1.Pod) corev1.ResourceList {
	return podTotal(pod, func(r corev1.ResourceRequirements) corev1.ResourceList { return r.Limits }, false)
}

func podTotal(pod *corev1.Pod, of func(corev1.ResourceRequirements) corev1.ResourceList, overheadAll bool) corev1.ResourceList {
	total := corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		total = Add(total, of(c.Resources))
	}
	for _, c := range pod.Spec.InitContainers {
		for k, v := range of(c.Resources) {
			if q, ok := total[k]; !ok || v.Cmp(q) > 0 {
				total[k] = v.DeepCopy()
			}
		}
	}
	for k, v := range pod.Spec.Overhead {
		if _, ok := total[k]; ok || overheadAll {
			total = Add(total, corev1.ResourceList{k: v})
		}
	}
	return total
}

func serviceUsage(svc *corev1.Service) corev1.ResourceList {
	l := corev1.ResourceList{
		ObjectCountName(schema.GroupResource{Resource: "services"}): one(),
		corev1.ResourceServices:              one(),
		corev1.ResourceServicesLoadBalancers: {Format: resource.DecimalSI},
		corev1.ResourceServicesNodePorts:     {Format: resource.DecimalSI},
	}
	ports := *resource.NewQuantity(int64(len(svc.Spec.Ports)), resource.DecimalSI)
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		l[corev1.ResourceServicesNodePorts] = ports
	case corev1.ServiceTypeLoadBalancer:
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a == nil || *a {
			l[corev1.ResourceServicesNodePorts] = ports
		}
		l[corev1.ResourceServicesLoadBalancers] = one()
	}
	return l
}

func claimUsage(pvc *corev1.PersistentVolumeClaim) corev1.ResourceList {
	l := corev1.ResourceList{
		ObjectCountName(schema.GroupResource{Resource: "persistentvolumeclaims"}): one(),
		corev1.ResourcePersistentVolumeClaims:                                     one(),
	}
	class := pvc.Annotations[corev1.BetaStorageClassAnnotation]
	if class == "" && pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		l[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourcePersistentVolumeClaims))] = one()
	}
	storage, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if allocated, has := pvc.Status.AllocatedResources[corev1.ResourceStorage]; has && (!ok || allocated.Cmp(storage) > 0) {
		storage, ok = allocated, true // an expansion in progress charges the larger size
	}
	if ok {
		l[corev1.ResourceRequestsStorage] = storage.DeepCopy()
		if class != "" {
			l[corev1.ResourceName(class+storageClassSuffix+string(corev1.ResourceRequestsStorage))] = storage.DeepCopy()
		}
	}
	return l
}
