package envvars

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"

	"mini.dev/mini/internal/runtime"
)

// Resolve returns container c's environment as kubelet's
// makeEnvironmentVariables builds it: envFrom first (later sources win,
// keys that are not valid variable names skipped), then env in order,
// each value expanded against the variables so far and the service
// variables, or read from its valueFrom source; then the service link
// variables the container did not set. podIPs are the pod's addresses
// (the host's for hostNetwork pods).
//
// The errors are kubelet's, which the agent reports as
// CreateContainerConfigError: `configmap "x" not found`,
// `couldn't find key k in ConfigMap ns/x`, and the same for Secrets.
// Optional sources that are missing contribute nothing.
//
// The result is in a stable order (envFrom keys sorted, env as declared,
// service variables sorted), so an unchanged spec gives an unchanged
// environment.
func Resolve(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIPs []string, node Node, g Getter) ([]runtime.KeyValue, error) {
	enableLinks := pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks
	svcEnv, err := serviceEnv(ctx, g, pod.Namespace, enableLinks)
	if err != nil {
		return nil, err
	}
	r := resolver{ctx: ctx, ns: pod.Namespace, g: g,
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	env := orderedEnv{values: map[string]string{}}

	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := r.configMap(from.ConfigMapRef.Name)
			if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
				continue
			}
			if err != nil {
				return nil, err
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := r.secret(from.SecretRef.Name)
			if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
				continue
			}
			if err != nil {
				return nil, err
			}
			data = make(map[string]string, len(s.Data))
			for k, v := range s.Data {
				data[k] = string(v)
			}
		default:
			continue
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name := from.Prefix + k
			// Upstream skips these with an InvalidEnvironmentVariableNames
			// event rather than failing the container.
			if len(validation.IsEnvVarName(name)) != 0 {
				continue
			}
			env.set(name, data[k])
		}
	}

	mapping := MappingFor(env.values, svcEnv)
	for i := range c.Env {
		ev := &c.Env[i]
		value := ev.Value
		switch {
		case value != "":
			value = Expand(value, mapping)
		case ev.ValueFrom != nil:
			v, skip, err := r.valueFrom(ev.ValueFrom, pod, c, podIPs, node)
			if err != nil {
				return nil, err
			}
			if skip {
				continue
			}
			value = v
		}
		env.set(ev.Name, value)
	}

	out := make([]runtime.KeyValue, 0, len(env.order)+len(svcEnv))
	for _, k := range env.order {
		out = append(out, runtime.KeyValue{Key: k, Value: env.values[k]})
	}
	svcKeys := make([]string, 0, len(svcEnv))
	for k := range svcEnv {
		if _, set := env.values[k]; !set {
			svcKeys = append(svcKeys, k)
		}
	}
	sort.Strings(svcKeys)
	for _, k := range svcKeys {
		out = append(out, runtime.KeyValue{Key: k, Value: svcEnv[k]})
	}
	return out, nil
}

// orderedEnv keeps the first position of each variable and its last value.
type orderedEnv struct {
	order  []string
	values map[string]string
}

func (e *orderedEnv) set(k, v string) {
	if _, ok := e.values[k]; !ok {
		e.order = append(e.order, k)
	}
	e.values[k] = v
}

// resolver reads each ConfigMap and Secret once per Resolve.
type resolver struct {
	ctx        context.Context
	ns         string
	g          Getter
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (r *resolver) configMap(name string) (*corev1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := r.g.ConfigMap(r.ctx, r.ns, name)
	if apierrors.IsNotFound(err) {
		return nil, notFound("configmap", name)
	}
	if err != nil {
		return nil, err
	}
	r.configMaps[name] = cm
	return cm, nil
}

func (r *resolver) secret(name string) (*corev1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	s, err := r.g.Secret(r.ctx, r.ns, name)
	if apierrors.IsNotFound(err) {
		return nil, notFound("secret", name)
	}
	if err != nil {
		return nil, err
	}
	r.secrets[name] = s
	return s, nil
}

// valueFrom resolves one env source; skip is true for a missing optional
// one, which leaves the variable unset.
func (r *resolver) valueFrom(src *corev1.EnvVarSource, pod *corev1.Pod, c *corev1.Container, podIPs []string, node Node) (value string, skip bool, err error) {
	switch {
	case src.FieldRef != nil:
		v, err := PodFieldValue(src.FieldRef.FieldPath, pod, podIPs, node)
		return v, false, err
	case src.ResourceFieldRef != nil:
		target := c
		if n := src.ResourceFieldRef.ContainerName; n != "" && n != c.Name {
			if target = findContainer(pod, n); target == nil {
				return "", false, fmt.Errorf("container %q not found in pod %s/%s", n, pod.Namespace, pod.Name)
			}
		}
		v, err := ContainerResourceValue(src.ResourceFieldRef, target, node)
		return v, false, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.configMap(ref.Name)
		if err != nil {
			return "", apierrors.IsNotFound(err) && isTrue(ref.Optional), ignoreOptional(err, ref.Optional)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in ConfigMap %v/%v", ref.Key, r.ns, ref.Name)
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.secret(ref.Name)
		if err != nil {
			return "", apierrors.IsNotFound(err) && isTrue(ref.Optional), ignoreOptional(err, ref.Optional)
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("couldn't find key %v in Secret %v/%v", ref.Key, r.ns, ref.Name)
		}
		return string(v), false, nil
	}
	return "", false, nil
}

func ignoreOptional(err error, optional *bool) error {
	if apierrors.IsNotFound(err) && isTrue(optional) {
		return nil
	}
	return err
}

func isTrue(b *bool) bool { return b != nil && *b }

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}
