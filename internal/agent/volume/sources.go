package volume

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/agent/envvars"
)

// defaultMode is the API's default for configMap, secret, downwardAPI
// and projected volumes (0644).
const defaultMode = int32(0o644)

// payload computes the files of a configMap, secret, downwardAPI or
// projected volume from its sources, as kubelet's volume plugins do. A
// missing optional source gives no files; a missing required one is
// kubelet's not-found error.
func (m *Manager) payload(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (map[string]fileProjection, error) {
	switch {
	case v.ConfigMap != nil:
		return m.configMapPayload(ctx, pod, v.ConfigMap.Name, v.ConfigMap.Items, modeOr(v.ConfigMap.DefaultMode), isTrue(v.ConfigMap.Optional))
	case v.Secret != nil:
		return m.secretPayload(ctx, pod, v.Secret.SecretName, v.Secret.Items, modeOr(v.Secret.DefaultMode), isTrue(v.Secret.Optional))
	case v.DownwardAPI != nil:
		return m.downwardPayload(pod, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		return m.projectedPayload(ctx, pod, v.Projected)
	}
	return nil, fmt.Errorf("volume %q has no source with files", v.Name)
}

func (m *Manager) configMapPayload(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, mode int32, optional bool) (map[string]fileProjection, error) {
	cm, err := m.cfg.Getter.ConfigMap(ctx, pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		if optional {
			return map[string]fileProjection{}, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, name)
	}
	if err != nil {
		return nil, err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyPayload(data, items, mode, optional, "configmap references non-existent config key: %s")
}

func (m *Manager) secretPayload(ctx context.Context, pod *corev1.Pod, name string, items []corev1.KeyToPath, mode int32, optional bool) (map[string]fileProjection, error) {
	s, err := m.cfg.Getter.Secret(ctx, pod.Namespace, name)
	if apierrors.IsNotFound(err) {
		if optional {
			return map[string]fileProjection{}, nil
		}
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, name)
	}
	if err != nil {
		return nil, err
	}
	return keyPayload(s.Data, items, mode, optional, "references non-existent secret key: %s")
}

// keyPayload is kubelet's MakePayload: every key, or only the listed
// items at their paths and modes.
func keyPayload(data map[string][]byte, items []corev1.KeyToPath, mode int32, optional bool, missingFormat string) (map[string]fileProjection, error) {
	out := make(map[string]fileProjection, len(data))
	if len(items) == 0 {
		for k, v := range data {
			out[k] = fileProjection{Data: v, Mode: mode}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf(missingFormat, it.Key)
		}
		out[it.Path] = fileProjection{Data: v, Mode: itemMode(it.Mode, mode)}
	}
	return out, nil
}

// downwardPayload renders downwardAPI items: pod fields and container
// resources.
func (m *Manager) downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode int32) (map[string]fileProjection, error) {
	out := make(map[string]fileProjection, len(items))
	node := m.node(pod)
	var errs []error
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = envvars.PodFieldValue(it.FieldRef.FieldPath, pod, podIPs(pod), node)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				err = fmt.Errorf("container %q not found in pod %s/%s", it.ResourceFieldRef.ContainerName, pod.Namespace, pod.Name)
				break
			}
			value, err = envvars.ContainerResourceValue(it.ResourceFieldRef, c, node)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[it.Path] = fileProjection{Data: []byte(value), Mode: itemMode(it.Mode, mode)}
	}
	return out, errors.Join(errs...)
}

// projectedPayload merges the projected sources; a token is read-only
// to its owner when the pod has an fsGroup (0600, then 0640 once the
// group is set), as kubelet does.
func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, p *corev1.ProjectedVolumeSource) (map[string]fileProjection, error) {
	mode := modeOr(p.DefaultMode)
	out := map[string]fileProjection{}
	var errs []error
	merge := func(files map[string]fileProjection, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for k, v := range files {
			out[k] = v
		}
	}
	for _, s := range p.Sources {
		switch {
		case s.ConfigMap != nil:
			merge(m.configMapPayload(ctx, pod, s.ConfigMap.Name, s.ConfigMap.Items, mode, isTrue(s.ConfigMap.Optional)))
		case s.Secret != nil:
			merge(m.secretPayload(ctx, pod, s.Secret.Name, s.Secret.Items, mode, isTrue(s.Secret.Optional)))
		case s.DownwardAPI != nil:
			merge(m.downwardPayload(pod, s.DownwardAPI.Items, mode))
		case s.ServiceAccountToken != nil:
			tokenMode := mode
			if fsGroup(pod) != nil {
				tokenMode = 0o600
			}
			token, err := m.tokens.get(ctx, pod, s.ServiceAccountToken)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[s.ServiceAccountToken.Path] = fileProjection{Data: []byte(token), Mode: tokenMode}
		case s.ClusterTrustBundle != nil:
			errs = append(errs, errors.New("clusterTrustBundle projections are not supported"))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// modeOr is the volume's defaultMode, or the API's default.
func modeOr(m *int32) int32 { return itemMode(m, defaultMode) }

// itemMode is an item's own mode, or the volume's.
func itemMode(m *int32, volumeMode int32) int32 {
	if m != nil {
		return *m
	}
	return volumeMode
}
