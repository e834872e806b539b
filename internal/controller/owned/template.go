package owned

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// PodFromTemplate is the pod a controller creates from its template, as
// upstream's GetPodFromTemplate: the template's labels, annotations,
// finalizers and spec, generateName "<controller name>-" (shortened so
// the generated name is a valid name), and a controller reference to
// controller (nil: none).
func PodFromTemplate(template *corev1.PodTemplateSpec, controller metav1.Object, kind schema.GroupVersionKind) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Labels:      copyMap(template.Labels),
			Annotations: copyMap(template.Annotations),
			Finalizers:  append([]string(nil), template.Finalizers...),
		},
		Spec: *template.Spec.DeepCopy(),
	}
	if controller != nil {
		pod.Namespace = controller.GetNamespace()
		pod.GenerateName = GenerateNamePrefix(controller.GetName())
		pod.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(controller, kind)}
	}
	return pod
}

// GenerateNamePrefix is "<name>-", cut so that the API's five random
// characters still give a valid name, as upstream's
// SimpleNameGenerator does.
func GenerateNamePrefix(name string) string {
	const randomLength = 5
	prefix := name + "-"
	if max := validation.DNS1123SubdomainMaxLength - randomLength; len(prefix) > max {
		prefix = prefix[:max]
	}
	return prefix
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
