package registry

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/diff"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/kubectl/pkg/util/qos"
)

// Pods as upstream serves them. The server owns status (reset on create,
// kept on writes to the main resource), nearly all of the spec is
// immutable once created, and the generation follows spec changes.
// binding and eviction are served by the API server's own handlers.
func Pods() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("pods"),
		Kind:         "Pod",
		SingularName: "pod",
		Namespaced:   true,
		ShortNames:   []string{"po"},
		Categories:   []string{"all"},
		Subresources: []string{"status", "binding", "eviction", "log", "exec", "attach", "portforward"},
		New:          func() runtime.Object { return &corev1.Pod{} },
		NewList:      func() runtime.Object { return &corev1.PodList{} },
		Default:      func(obj runtime.Object) { defaultPod(obj.(*corev1.Pod)) },
		PrepareForCreate: func(obj runtime.Object) {
			pod := obj.(*corev1.Pod)
			pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qos.GetPodQOS(pod)}
			if len(pod.Spec.SchedulingGates) > 0 {
				pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
					Reason: corev1.PodReasonSchedulingGated, Message: "Scheduling is blocked due to non-empty scheduling gates"}}
			}
		},
		PrepareForUpdate: func(obj, old runtime.Object, sub string) {
			pod, prev := obj.(*corev1.Pod), old.(*corev1.Pod)
			if sub != "status" {
				pod.Status = prev.Status
				return
			}
			pod.Spec = prev.Spec
			pod.OwnerReferences = prev.OwnerReferences
			if pod.Status.QOSClass == "" {
				pod.Status.QOSClass = prev.Status.QOSClass
			}
		},
		Validate: func(obj runtime.Object) field.ErrorList { return validatePodCreate(obj.(*corev1.Pod)) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			pod, prev := obj.(*corev1.Pod), old.(*corev1.Pod)
			return append(validatePodUpdate(pod, prev), validatePodStatusUpdate(pod, prev)...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*corev1.Pod).Spec, old.(*corev1.Pod).Spec)
		},
		Columns: podColumns,
		Cells:   func(obj runtime.Object) []any { return podCells(obj.(*corev1.Pod)) },
		Fields:  func(obj runtime.Object) fields.Set { return podFields(obj.(*corev1.Pod)) },
	}
}

// defaultPod is upstream's SetDefaults_Pod (defaults for Pod objects only,
// not for templates) followed by the PodSpec defaults, and the status
// normalisation of the v1 conversion (podIP mirrors podIPs[0]).
func defaultPod(pod *corev1.Pod) {
	for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range cs {
			requestsFromLimits(&cs[i].Resources)
		}
	}
	if pod.Spec.EnableServiceLinks == nil {
		v := corev1.DefaultEnableServiceLinks
		pod.Spec.EnableServiceLinks = &v
	}
	if pod.Spec.HostNetwork {
		for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
					}
				}
			}
		}
	}
	defaultPodSpec(&pod.Spec)
	st := &pod.Status
	if st.PodIP != "" && (len(st.PodIPs) == 0 || st.PodIPs[0].IP != st.PodIP) {
		st.PodIPs = []corev1.PodIP{{IP: st.PodIP}}
	}
	st.PodIP = ""
	if len(st.PodIPs) > 0 {
		st.PodIP = st.PodIPs[0].IP
	}
	if st.HostIP != "" && (len(st.HostIPs) == 0 || st.HostIPs[0].IP != st.HostIP) {
		st.HostIPs = []corev1.HostIP{{IP: st.HostIP}}
	}
}

// requestsFromLimits copies each limit without a request into requests.
func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = q.DeepCopy()
		}
	}
}

// podFields are the fields upstream's pod field selectors offer.
func podFields(pod *corev1.Pod) fields.Set {
	ip := ""
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	return fields.Set{
		"spec.nodeName":            pod.Spec.NodeName,
		"spec.restartPolicy":       string(pod.Spec.RestartPolicy),
		"spec.schedulerName":       pod.Spec.SchedulerName,
		"spec.serviceAccountName":  pod.Spec.ServiceAccountName,
		"spec.hostNetwork":         strconv.FormatBool(pod.Spec.HostNetwork),
		"status.phase":             string(pod.Status.Phase),
		"status.podIP":             ip,
		"status.nominatedNodeName": pod.Status.NominatedNodeName,
	}
}

// validatePodMetadataAndSpec is what a pod must satisfy on create and on
// every update.
func validatePodMetadataAndSpec(pod *corev1.Pod) field.ErrorList {
	meta, spec := field.NewPath("metadata"), field.NewPath("spec")
	errs := validateKubeMeta(&pod.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validatePodSpecificAnnotations(pod.Annotations, &pod.Spec, meta.Child("annotations"))...)
	errs = append(errs, validatePodSpec(&pod.Spec, &pod.ObjectMeta, spec, podSpecOptions{isPod: true})...)
	if pod.Spec.ServiceAccountName == "" {
		for i, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for j, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					errs = append(errs, field.Forbidden(spec.Child("volumes").Index(i).Child("projected", "sources").Index(j).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for i, c := range pod.Spec.Containers {
		errs = append(errs, validateImageWhitespace(c.Image, spec.Child("containers").Index(i).Child("image"))...)
	}
	for i, c := range pod.Spec.InitContainers {
		errs = append(errs, validateImageWhitespace(c.Image, spec.Child("initContainers").Index(i).Child("image"))...)
	}
	return errs
}

func validatePodCreate(pod *corev1.Pod) field.ErrorList {
	errs := validatePodMetadataAndSpec(pod)
	spec := field.NewPath("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) > 0 {
		errs = append(errs, field.Forbidden(spec.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return errs
}

// updatablePodSpecFields are what ValidatePodUpdate lets a write change.
var updatablePodSpecFields = []string{
	"`spec.containers[*].image`",
	"`spec.initContainers[*].image`",
	"`spec.activeDeadlineSeconds`",
	"`spec.tolerations` (only additions to existing tolerations)",
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
}

// validatePodUpdate is upstream's ValidatePodUpdate: images, a shrinking
// active deadline, added tolerations and removed scheduling gates are the
// only spec changes a pod accepts (nodeSelector and node affinity may grow
// while the pod is still gated).
func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	meta, spec := field.NewPath("metadata"), field.NewPath("spec")
	errs := validateKubeMetaUpdate(&pod.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validatePodMetadataAndSpec(pod)...)
	errs = append(errs, validateMirrorAnnotationUpdate(pod.Annotations, old.Annotations, meta.Child("annotations"))...)

	for _, list := range []struct {
		name     string
		new, old []corev1.Container
	}{{"containers", pod.Spec.Containers, old.Spec.Containers}, {"initContainers", pod.Spec.InitContainers, old.Spec.InitContainers}} {
		p := spec.Child(list.name)
		if len(list.new) != len(list.old) {
			return append(errs, field.Forbidden(p, "pod updates may not add or remove containers"))
		}
		for i, c := range list.new {
			if c.Image == "" {
				errs = append(errs, field.Required(p.Index(i).Child("image"), ""))
			}
			errs = append(errs, validateImageWhitespace(c.Image, p.Index(i).Child("image"))...)
		}
	}

	if d := pod.Spec.ActiveDeadlineSeconds; d != nil {
		if *d < 0 || *d > 1<<31-1 {
			return append(errs, field.Invalid(spec.Child("activeDeadlineSeconds"), *d, validation.InclusiveRangeError(0, 1<<31-1)))
		}
		if o := old.Spec.ActiveDeadlineSeconds; o != nil && *o < *d {
			return append(errs, field.Invalid(spec.Child("activeDeadlineSeconds"), *d, "must be less than or equal to previous value"))
		}
	} else if old.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Invalid(spec.Child("activeDeadlineSeconds"), pod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}
	errs = append(errs, validateOnlyAddedTolerations(pod.Spec.Tolerations, old.Spec.Tolerations, spec.Child("tolerations"))...)
	errs = append(errs, validateOnlyDeletedGates(pod.Spec.SchedulingGates, old.Spec.SchedulingGates, spec.Child("schedulingGates"))...)

	if equality.Semantic.DeepEqual(pod.Spec, old.Spec) {
		return errs
	}
	if qos.GetPodQOS(old) != qos.ComputePodQOS(pod) {
		errs = append(errs, field.Invalid(meta, pod.Status.QOSClass, "Pod QoS is immutable"))
	}
	munged := mungeUpdatablePodFields(pod, old)
	if len(old.Spec.SchedulingGates) > 0 {
		errs = append(errs, validateGatedPodSchedulingChanges(munged, &old.Spec, spec)...)
	}
	if !equality.Semantic.DeepEqual(*munged, old.Spec) {
		errs = append(errs, field.Forbidden(spec, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields, ","), diff.Diff(old.Spec, *munged))))
	}
	return errs
}

// mungeUpdatablePodFields is the new spec with every field a pod update
// may change set back to its old value.
func mungeUpdatablePodFields(pod, old *corev1.Pod) *corev1.PodSpec {
	m := pod.Spec.DeepCopy()
	for i := range m.Containers {
		m.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range m.InitContainers {
		m.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	m.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	m.SchedulingGates = old.Spec.SchedulingGates
	m.Tolerations = old.Spec.Tolerations
	if o := old.Spec.TerminationGracePeriodSeconds; o != nil && *o < 0 && m.TerminationGracePeriodSeconds != nil && *m.TerminationGracePeriodSeconds == 1 {
		m.TerminationGracePeriodSeconds = o
	}
	return m
}

// validateGatedPodSchedulingChanges lets a pod still held by scheduling
// gates add to its nodeSelector and narrow its required node affinity; it
// munges those fields back into m once checked.
func validateGatedPodSchedulingChanges(m, old *corev1.PodSpec, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	if !equality.Semantic.DeepEqual(m.NodeSelector, old.NodeSelector) {
		for k, v := range old.NodeSelector {
			if nv, ok := m.NodeSelector[k]; !ok || nv != v {
				errs = append(errs, field.Invalid(spec.Child("nodeSelector"), m.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
				break
			}
		}
		m.NodeSelector = old.NodeSelector
	}
	var oldNA, newNA *corev1.NodeAffinity
	if old.Affinity != nil {
		oldNA = old.Affinity.NodeAffinity
	}
	if m.Affinity != nil {
		newNA = m.Affinity.NodeAffinity
	}
	if equality.Semantic.DeepEqual(oldNA, newNA) {
		return errs
	}
	switch {
	case m.Affinity == nil:
		m.Affinity = &corev1.Affinity{NodeAffinity: oldNA}
	case old.Affinity == nil && m.Affinity.PodAffinity == nil && m.Affinity.PodAntiAffinity == nil:
		m.Affinity = nil
	default:
		m.Affinity.NodeAffinity = oldNA
	}
	return errs
}

func validateOnlyDeletedGates(gates, old []corev1.PodSchedulingGate, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	known := map[string]bool{}
	for _, g := range old {
		known[g.Name] = true
	}
	for i, g := range gates {
		if !known[g.Name] {
			errs = append(errs, field.Forbidden(path.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return errs
}

// validateMirrorAnnotationUpdate: a pod cannot become or stop being the
// mirror of a static pod.
func validateMirrorAnnotationUpdate(anns, old map[string]string, path *field.Path) field.ErrorList {
	key := corev1.MirrorPodAnnotationKey
	newVal, isNew := anns[key]
	oldVal, wasOld := old[key]
	switch {
	case wasOld && (!isNew || newVal != oldVal):
		return field.ErrorList{field.Forbidden(path.Key(key), "may not remove or update mirror pod annotation")}
	case isNew && !wasOld:
		return field.ErrorList{field.Forbidden(path.Key(key), "may not add mirror pod annotation")}
	}
	return nil
}

// validatePodStatusUpdate is the part of upstream's ValidatePodStatusUpdate
// that concerns status; on writes to the main resource status is the old
// one and passes.
func validatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	st := field.NewPath("status")
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
		default:
			errs = append(errs, validateQualifiedName(string(c.Type), field.NewPath("metadata", "conditions").Index(i).Child("Type"))...)
		}
	}
	if n := pod.Status.NominatedNodeName; n != "" && n != old.Status.NominatedNodeName {
		errs = append(errs, validateName(n, apivalidation.NameIsDNSSubdomain, st.Child("nominatedNodeName"))...)
	}
	errs = append(errs, validateTerminatedStays(pod.Status.ContainerStatuses, old.Status.ContainerStatuses, old.Spec.RestartPolicy, nil, st.Child("containerStatuses"))...)
	errs = append(errs, validateTerminatedStays(pod.Status.InitContainerStatuses, old.Status.InitContainerStatuses, old.Spec.RestartPolicy, old.Spec.InitContainers, st.Child("initContainerStatuses"))...)
	for i, ip := range pod.Status.PodIPs {
		errs = append(errs, validation.IsValidIP(st.Child("podIPs").Index(i), ip.IP)...)
	}
	if len(pod.Status.HostIPs) > 0 && pod.Status.HostIP != pod.Status.HostIPs[0].IP {
		errs = append(errs, field.Invalid(st.Child("hostIPs").Index(0).Child("ip"), pod.Status.HostIPs[0].IP, "must be equal to `hostIP`"))
	}
	for i, ip := range pod.Status.HostIPs {
		errs = append(errs, validation.IsValidIP(st.Child("hostIPs").Index(i), ip.IP)...)
	}
	return errs
}

// validateTerminatedStays: a container that will not be restarted may not
// leave the terminated state (restartable init containers excepted).
func validateTerminatedStays(statuses, old []corev1.ContainerStatus, policy corev1.RestartPolicy, inits []corev1.Container, path *field.Path) field.ErrorList {
	if policy == corev1.RestartPolicyAlways {
		return nil
	}
	var errs field.ErrorList
	for i, o := range old {
		t := o.State.Terminated
		if t == nil || (t.ExitCode != 0 && policy == corev1.RestartPolicyOnFailure) || isRestartableInit(inits, o.Name) {
			continue
		}
		for _, s := range statuses {
			if s.Name == o.Name && s.State.Terminated == nil {
				errs = append(errs, field.Forbidden(path.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return errs
}

func isRestartableInit(inits []corev1.Container, name string) bool {
	for i := range inits {
		if inits[i].Name == name {
			return isRestartable(&inits[i])
		}
	}
	return false
}

// isRestartable is a sidecar: an init container that restarts always.
func isRestartable(c *corev1.Container) bool {
	return c != nil && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}
