package apiserver

// Upstream's LimitRanger admission plugin (plugin/pkg/admission/limitranger).
// For pods: a new pod's containers get the requests and limits they leave
// out from the namespace's LimitRanges (defaultRequest, default), recorded
// in the annotation kubernetes.io/limit-ranger, and then every container
// (type Container) and the pod as a whole (type Pod) must respect the
// ranges' min, max and maxLimitRequestRatio, or the pod is refused with
// upstream's 403 and words. A new PersistentVolumeClaim's storage request
// must lie within the PersistentVolumeClaim items. Updates are not
// checked: a pod's containers and their resources do not change once
// created (upstream reasons the same way).

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"

	"mini.dev/mini/internal/controller/resourcequota/usage"
	"mini.dev/mini/internal/registry"
)

var limitRangesGVR = corev1.SchemeGroupVersion.WithResource("limitranges")

const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// admitLimitRanges runs the plugin on a new object: a pod is defaulted
// and checked, a PersistentVolumeClaim checked; nothing else is
// concerned. A refusal is upstream's 403.
func (s *Server) admitLimitRanges(ctx context.Context, res *registry.Resource, obj runtime.Object) error {
	var name string
	switch o := obj.(type) {
	case *corev1.Pod:
		name = o.Name
		if o.GenerateName != "" {
			name = o.GenerateName // upstream admits before the name is generated
		}
	case *corev1.PersistentVolumeClaim:
		name = o.Name
	default:
		return nil
	}
	m, _ := meta.Accessor(obj)
	ranges, err := s.limitRanges(ctx, m.GetNamespace())
	if err != nil {
		return fmt.Errorf("error listing LimitRanges: %w", err)
	}
	if len(ranges) == 0 {
		return nil
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		err = applyLimitRanges(o, ranges)
	case *corev1.PersistentVolumeClaim:
		err = checkClaimLimits(o, ranges)
	}
	return admissionError(res.GVR.GroupResource(), name, err)
}

// limitRanges lists the LimitRanges of a namespace; none when the
// registry serves none.
func (s *Server) limitRanges(ctx context.Context, namespace string) ([]*corev1.LimitRange, error) {
	res, ok := s.cfg.Registry.Lookup(limitRangesGVR)
	if !ok {
		return nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, namespace, listQuery{filter: matchAll(res)})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.LimitRange, len(objs))
	for i, obj := range objs {
		out[i] = obj.(*corev1.LimitRange)
	}
	return out, nil
}

// applyLimitRanges is the plugin's mutating half followed by its
// validating half, range by range as upstream runs them.
func applyLimitRanges(pod *corev1.Pod, ranges []*corev1.LimitRange) error {
	for _, lr := range ranges {
		mergePodDefaults(pod, containerDefaults(lr))
	}
	var errs []error
	for _, lr := range ranges {
		errs = append(errs, podLimitErrors(lr, pod)...)
	}
	return denied(utilerrors.NewAggregate(errs))
}

// containerDefaults are the requests and limits a range gives containers
// that state none; a later item of the range wins, as upstream.
func containerDefaults(lr *corev1.LimitRange) corev1.ResourceRequirements {
	def := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, item := range lr.Spec.Limits {
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		for k, v := range item.DefaultRequest {
			def.Requests[k] = v.DeepCopy()
		}
		for k, v := range item.Default {
			def.Limits[k] = v.DeepCopy()
		}
	}
	return def
}

// mergePodDefaults fills in what each container leaves out and says so in
// the pod's limit-ranger annotation.
func mergePodDefaults(pod *corev1.Pod, def corev1.ResourceRequirements) {
	if len(def.Requests) == 0 && len(def.Limits) == 0 {
		return
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeContainerDefaults(&pod.Spec.Containers[i], def, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeContainerDefaults(&pod.Spec.InitContainers[i], def, "init container", notes)
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

func mergeContainerDefaults(c *corev1.Container, def corev1.ResourceRequirements, kind string, notes []string) []string {
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	fill := func(have, from corev1.ResourceList) (set []string) {
		for k, v := range from {
			if _, ok := have[k]; !ok {
				have[k] = v.DeepCopy()
				set = append(set, string(k))
			}
		}
		slices.Sort(set)
		return set
	}
	limits := fill(c.Resources.Limits, def.Limits)
	requests := fill(c.Resources.Requests, def.Requests)
	if len(requests) > 0 {
		notes = append(notes, fmt.Sprintf("%s request for %s %s", strings.Join(requests, ", "), kind, c.Name))
	}
	if len(limits) > 0 {
		notes = append(notes, fmt.Sprintf("%s limit for %s %s", strings.Join(limits, ", "), kind, c.Name))
	}
	return notes
}

// podLimitErrors is upstream's PodValidateLimitFunc: every container
// against the Container items, the pod's totals against the Pod items.
func podLimitErrors(lr *corev1.LimitRange, pod *corev1.Pod) []error {
	var errs []error
	check := func(item corev1.LimitRangeItem, requests, limits corev1.ResourceList) {
		kind := string(item.Type)
		for _, k := range sortedNames(item.Min) {
			errs = appendErr(errs, minConstraint(kind, k, item.Min[k], requests, limits))
		}
		for _, k := range sortedNames(item.Max) {
			errs = appendErr(errs, maxConstraint(kind, k, item.Max[k], requests, limits))
		}
		for _, k := range sortedNames(item.MaxLimitRequestRatio) {
			errs = appendErr(errs, ratioConstraint(kind, k, item.MaxLimitRequestRatio[k], requests, limits))
		}
	}
	for _, item := range lr.Spec.Limits {
		switch item.Type {
		case corev1.LimitTypeContainer:
			for _, c := range pod.Spec.Containers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
			for _, c := range pod.Spec.InitContainers {
				check(item, c.Resources.Requests, c.Resources.Limits)
			}
		case corev1.LimitTypePod:
			check(item, usage.PodRequests(pod), usage.PodLimits(pod))
		}
	}
	return errs
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}

// sortedNames orders a resource list's names, so that a refusal names its
// violations in the same order every time.
func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// checkClaimLimits is upstream's PersistentVolumeClaimValidateLimitFunc:
// the claim's requests against the PersistentVolumeClaim items; its
// limits are not the user's to set, so max bounds the request.
func checkClaimLimits(pvc *corev1.PersistentVolumeClaim, ranges []*corev1.LimitRange) error {
	var errs []error
	kind := string(corev1.LimitTypePersistentVolumeClaim)
	requests := pvc.Spec.Resources.Requests
	for _, lr := range ranges {
		for _, item := range lr.Spec.Limits {
			if item.Type != corev1.LimitTypePersistentVolumeClaim {
				continue
			}
			for _, k := range sortedNames(item.Min) {
				errs = appendErr(errs, minConstraint(kind, k, item.Min[k], requests, corev1.ResourceList{}))
			}
			for _, k := range sortedNames(item.Max) {
				errs = appendErr(errs, maxRequestConstraint(kind, k, item.Max[k], requests))
			}
		}
	}
	return denied(utilerrors.NewAggregate(errs))
}

func maxRequestConstraint(kind string, name corev1.ResourceName, bound resource.Quantity, requests corev1.ResourceList) error {
	req, hasReq := requests[name]
	r, _, b := compared(req, resource.Quantity{}, bound)
	switch {
	case !hasReq:
		return fmt.Errorf("maximum %s usage per %s is %s.  No request is specified", name, kind, bound.String())
	case r > b:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, bound.String(), req.String())
	}
	return nil
}

// compared are the request, limit and bound as comparable integers:
// milli-units unless that would overflow.
func compared(req, lim, bound resource.Quantity) (int64, int64, int64) {
	r, l, b := req.Value(), lim.Value(), bound.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && b <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), bound.MilliValue()
	}
	return r, l, b
}

func minConstraint(kind string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, b := compared(req, lim, bound)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, bound.String())
	case r < b:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, bound.String(), req.String())
	case hasLim && l < b:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, bound.String(), lim.String())
	}
	return nil
}

func maxConstraint(kind string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, b := compared(req, lim, bound)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, bound.String())
	case l > b:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, bound.String(), lim.String())
	case hasReq && r > b:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, bound.String(), req.String())
	}
	return nil
}

func ratioConstraint(kind string, name corev1.ResourceName, bound resource.Quantity, requests, limits corev1.ResourceList) error {
	req, hasReq := requests[name]
	lim, hasLim := limits[name]
	r, l, _ := compared(req, lim, bound)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, bound.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, bound.String())
	}
	ratio := float64(l) / float64(r)
	observed, most := ratio, float64(bound.Value())
	if bound.Value() <= resource.MaxMilliValue {
		observed, most = ratio*1000, float64(bound.MilliValue())
	}
	if observed > most {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, bound.String(), ratio)
	}
	return nil
}
