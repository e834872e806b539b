package apiserver

// A pod's admission: the plugins kube-apiserver runs on pods by default,
// in its order. On create: NamespaceLifecycle (nothing is admitted into a
// namespace that is missing or going away), ServiceAccount, Priority and
// DefaultTolerationSeconds. On update: Priority keeps the resolved
// priority and DefaultTolerationSeconds adds what is missing. Writes to
// subresources (status, binding, eviction) are not admitted.

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// denial is an admission plugin's refusal of an object; admissionError
// makes it upstream's 403.
type denial struct{ err error }

func (d denial) Error() string { return d.err.Error() }
func (d denial) Unwrap() error { return d.err }

// denied marks err as a refusal.
func denied(err error) error {
	if err == nil {
		return nil
	}
	return denial{err}
}

// admissionError turns a denial into upstream's admission.NewForbidden
// answer for the object; other errors pass unchanged.
func admissionError(gr schema.GroupResource, name string, err error) error {
	var d denial
	if !errors.As(err, &d) {
		return err
	}
	if apierrors.IsForbidden(d.err) {
		return d.err
	}
	return apierrors.NewForbidden(gr, name, d.err)
}

// admitPod runs the pod admission plugins on a new pod (old nil) or an
// update of one.
func (s *Server) admitPod(ctx context.Context, res *registry.Resource, obj, old runtime.Object, sub string) error {
	if sub != "" {
		return nil
	}
	pod := obj.(*corev1.Pod)
	if old != nil {
		keepPodPriority(&pod.Spec, &old.(*corev1.Pod).Spec)
		addDefaultTolerations(&pod.Spec)
		return nil
	}
	if err := s.admitNamespace(ctx, res, pod.Namespace); err != nil {
		return err
	}
	// Upstream admits a new object before its name is generated.
	name := pod.Name
	if pod.GenerateName != "" {
		name = pod.GenerateName
	}
	sa := serviceAccountAdmission{get: s.getServiceAccount, volumeName: func() string { return generatedName(serviceAccountVolumePrefix) }}
	if err := sa.admit(ctx, pod); err != nil {
		return admissionError(podsGVR.GroupResource(), name, err)
	}
	classes, err := s.priorityClasses(ctx)
	if err != nil {
		return fmt.Errorf("failed to get default priority class: %w", err)
	}
	if err := resolvePodPriority(&pod.Spec, classes); err != nil {
		return admissionError(podsGVR.GroupResource(), name, err)
	}
	addDefaultTolerations(&pod.Spec)
	return nil
}
