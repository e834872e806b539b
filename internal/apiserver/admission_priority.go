package apiserver

// Upstream's Priority admission plugin (plugin/pkg/admission/priority):
// a new pod's spec.priority and spec.preemptionPolicy come from its
// PriorityClass, or from the global default class, or are 0 and
// PreemptLowerPriority; an update keeps them. Among priority classes, only
// one may be the global default.

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"mini.dev/mini/internal/registry"
)

var priorityClassesGVR = schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")

// resolvePodPriority sets a new pod's priority and preemption policy from
// the classes. A pod may state them only if they agree with its class.
func resolvePodPriority(spec *corev1.PodSpec, classes []*schedulingv1.PriorityClass) error {
	var priority int32
	var policy *corev1.PreemptionPolicy
	if spec.PriorityClassName == "" {
		if pc := defaultPriorityClass(classes); pc != nil {
			spec.PriorityClassName, priority, policy = pc.Name, pc.Value, pc.PreemptionPolicy
		} else {
			policy = ptr.To(corev1.PreemptLowerPriority)
		}
	} else {
		pc := findPriorityClass(classes, spec.PriorityClassName)
		if pc == nil {
			return denied(fmt.Errorf("no PriorityClass with name %v was found", spec.PriorityClassName))
		}
		priority, policy = pc.Value, pc.PreemptionPolicy
	}
	if spec.Priority != nil && *spec.Priority != priority {
		return denied(fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name",
			*spec.Priority, priority))
	}
	spec.Priority = &priority
	if policy != nil {
		if spec.PreemptionPolicy != nil && *spec.PreemptionPolicy != *policy {
			return denied(fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name",
				*spec.PreemptionPolicy, *policy))
		}
		spec.PreemptionPolicy = ptr.To(*policy)
	}
	return nil
}

// keepPodPriority carries a pod's resolved priority and preemption policy
// over an update that leaves them out.
func keepPodPriority(spec, old *corev1.PodSpec) {
	if spec.Priority == nil && old.Priority != nil {
		spec.Priority = ptr.To(*old.Priority)
	}
	if spec.PreemptionPolicy == nil && old.PreemptionPolicy != nil {
		spec.PreemptionPolicy = ptr.To(*old.PreemptionPolicy)
	}
}

// defaultPriorityClass is the global default class; should a race have
// made several, the one with the lowest value, as upstream picks it.
func defaultPriorityClass(classes []*schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
	var def *schedulingv1.PriorityClass
	for _, pc := range classes {
		if pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def
}

func findPriorityClass(classes []*schedulingv1.PriorityClass, name string) *schedulingv1.PriorityClass {
	for _, pc := range classes {
		if pc.Name == name {
			return pc
		}
	}
	return nil
}

// checkSingleDefault refuses a class that would become a second global
// default.
func checkSingleDefault(pc *schedulingv1.PriorityClass, create bool, classes []*schedulingv1.PriorityClass) error {
	if !pc.GlobalDefault {
		return nil
	}
	if def := defaultPriorityClass(classes); def != nil && (create || def.Name != pc.Name) {
		return denied(fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
	}
	return nil
}

// priorityClasses lists every class in the store; nil when the registry
// serves none.
func (s *Server) priorityClasses(ctx context.Context) ([]*schedulingv1.PriorityClass, error) {
	res, ok := s.cfg.Registry.Lookup(priorityClassesGVR)
	if !ok {
		return nil, nil
	}
	objs, _, err := s.listObjects(ctx, res, "", listQuery{filter: matchAll(res)})
	if err != nil {
		return nil, err
	}
	classes := make([]*schedulingv1.PriorityClass, len(objs))
	for i, obj := range objs {
		classes[i] = obj.(*schedulingv1.PriorityClass)
	}
	return classes, nil
}

// priorityClassHooks are the server-side steps of priority classes: the
// validating half of the Priority plugin.
func (s *Server) priorityClassHooks() *hooks {
	return &hooks{admit: func(ctx context.Context, obj, old runtime.Object, sub string) (func(), error) {
		pc := obj.(*schedulingv1.PriorityClass)
		if sub != "" || !pc.GlobalDefault {
			return nil, nil
		}
		classes, err := s.priorityClasses(ctx)
		if err != nil {
			return nil, fmt.Errorf("failed to get default priority class: %w", err)
		}
		return nil, admissionError(priorityClassesGVR.GroupResource(), pc.Name, checkSingleDefault(pc, old == nil, classes))
	}}
}

// bootstrapPriorityClasses creates the system classes that are missing,
// as upstream's API server does at start.
func (s *Server) bootstrapPriorityClasses(ctx context.Context) error {
	res, ok := s.cfg.Registry.Lookup(priorityClassesGVR)
	if !ok {
		return nil
	}
	for _, pc := range registry.SystemPriorityClasses() {
		if err := s.createIfMissing(ctx, res, "", pc, "kube-apiserver"); err != nil {
			return err
		}
	}
	return nil
}

// createIfMissing creates obj unless an object of its name exists.
func (s *Server) createIfMissing(ctx context.Context, res *registry.Resource, namespace string, obj runtime.Object, manager string) error {
	m, err := registry.ObjectMeta(obj)
	if err != nil {
		return err
	}
	if _, _, err := s.getObject(ctx, res, namespace, m.Name); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	_, err = s.createObject(ctx, res, namespace, obj, writeOptions{manager: manager})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s %s/%s: %w", res.Kind, namespace, m.Name, err)
	}
	return nil
}
