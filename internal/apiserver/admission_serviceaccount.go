package apiserver

// Upstream's ServiceAccount admission plugin
// (plugin/pkg/admission/serviceaccount) for a new pod:
//
//  1. a pod without spec.serviceAccountName gets "default";
//  2. the service account must exist, or the pod is refused (403);
//  3. unless the pod or the account opts out (automountServiceAccountToken
//     false), every container and init container mounts a projected
//     "kube-api-access-xxxxx" volume at /var/run/secrets/kubernetes.io/
//     serviceaccount holding a bound token, the cluster CA and the
//     namespace;
//  4. a pod without imagePullSecrets gets the account's;
//  5. an account annotated kubernetes.io/enforce-mountable-secrets=true
//     limits the secrets the pod may reference to the account's;
//  6. a mirror pod (a static pod's API copy) may reference neither service
//     accounts nor secrets, and is otherwise left alone.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

const (
	defaultServiceAccountName         = "default"
	enforceMountableSecretsAnnotation = "kubernetes.io/enforce-mountable-secrets"
	// serviceAccountVolumePrefix starts the name of the token volume; five
	// random characters follow, as upstream generates them.
	serviceAccountVolumePrefix = "kube-api-access-"
	serviceAccountMountPath    = "/var/run/secrets/kubernetes.io/serviceaccount"
	// boundTokenExpirationSeconds is upstream's
	// WarnOnlyBoundTokenExpirationSeconds: an hour and seven seconds, a
	// value the API recognises as the one admission asks for.
	boundTokenExpirationSeconds = 60*60 + 7
	// rootCAConfigMapName is the config map in every namespace that holds
	// the cluster CA (ca.crt), as upstream's root-ca-cert-publisher keeps it.
	rootCAConfigMapName = "kube-root-ca.crt"
	rootCAKey           = "ca.crt"
	// defaultServiceAccountAttempts is how often admission reads the
	// default account before giving up: upstream waits for its controller
	// to create the account in a new namespace.
	defaultServiceAccountAttempts = 10
)

// serviceAccountGetter reads a service account; a missing one is
// upstream's NotFound error.
type serviceAccountGetter func(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)

// serviceAccountAdmission is the plugin for one pod creation.
type serviceAccountAdmission struct {
	get serviceAccountGetter
	// volumeName names a new token volume.
	volumeName func() string
}

// admit mutates and then validates a new pod, as the plugin's Admit and
// Validate do in turn. Refusals are denials; lookup failures other than
// NotFound are denials too, as upstream words them.
func (a serviceAccountAdmission) admit(ctx context.Context, pod *corev1.Pod) error {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return validateMirrorPodReferences(pod)
	}
	spec := &pod.Spec
	if spec.ServiceAccountName == "" {
		// The v1 conversion reads the deprecated field when the other is empty.
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = defaultServiceAccountName
	}
	spec.DeprecatedServiceAccount = spec.ServiceAccountName // the v1 field mirrors the internal one
	sa, err := a.get(ctx, pod.Namespace, spec.ServiceAccountName)
	if err != nil {
		return denied(fmt.Errorf("error looking up service account %s/%s: %w", pod.Namespace, spec.ServiceAccountName, err))
	}
	if shouldAutomount(sa, spec) {
		mountServiceAccountToken(spec, a.volumeName)
	}
	if len(spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		spec.ImagePullSecrets = make([]corev1.LocalObjectReference, len(sa.ImagePullSecrets))
		for i, s := range sa.ImagePullSecrets {
			spec.ImagePullSecrets[i].Name = s.Name
		}
	}
	if enforceMountableSecrets(sa) {
		if err := limitSecretReferences(sa, spec); err != nil {
			return denied(err)
		}
	}
	return nil
}

// shouldAutomount: the pod's choice wins, then the account's; mounting is
// the default.
func shouldAutomount(sa *corev1.ServiceAccount, spec *corev1.PodSpec) bool {
	if spec.AutomountServiceAccountToken != nil {
		return *spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// mountServiceAccountToken mounts the token volume in every container
// that has nothing at the mount path yet, and adds the volume if one of
// them needs it. A pod that already has a kube-api-access volume keeps it.
func mountServiceAccountToken(spec *corev1.PodSpec, volumeName func() string) {
	name, hasVolume := "", false
	for _, v := range spec.Volumes {
		if strings.HasPrefix(v.Name, serviceAccountVolumePrefix) {
			name, hasVolume = v.Name, true
			break
		}
	}
	if name == "" {
		name = volumeName()
	}
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: serviceAccountMountPath}
	needed := false
	for _, containers := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for i := range containers {
			if !mountsAt(containers[i].VolumeMounts, serviceAccountMountPath) {
				containers[i].VolumeMounts = append(containers[i].VolumeMounts, mount)
				needed = true
			}
		}
	}
	if !hasVolume && needed {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: tokenVolumeSource()}})
	}
}

func mountsAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

// tokenVolumeSource is the projected volume upstream mounts: a bound
// token, the cluster CA from kube-root-ca.crt and the pod's namespace.
func tokenVolumeSource() *corev1.ProjectedVolumeSource {
	return &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](corev1.ProjectedVolumeSourceDefaultMode),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](boundTokenExpirationSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMapName},
				Items:                []corev1.KeyToPath{{Key: rootCAKey, Path: rootCAKey}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}
}

func enforceMountableSecrets(sa *corev1.ServiceAccount) bool {
	v, ok := sa.Annotations[enforceMountableSecretsAnnotation]
	enforce, _ := strconv.ParseBool(v)
	return ok && enforce
}

// limitSecretReferences refuses a pod that references a secret its account
// does not list: secret volumes, env secretKeyRefs and image pull secrets.
func limitSecretReferences(sa *corev1.ServiceAccount, spec *corev1.PodSpec) error {
	mountable := map[string]bool{}
	for _, s := range sa.Secrets {
		mountable[s.Name] = true
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil && !mountable[v.Secret.SecretName] {
			return fmt.Errorf("volume with secret.secretName=%q is not allowed because service account %s does not reference that secret", v.Secret.SecretName, sa.Name)
		}
	}
	for _, list := range []struct {
		what       string
		containers []corev1.Container
	}{{"init container", spec.InitContainers}, {"container", spec.Containers}} {
		for _, c := range list.containers {
			for _, env := range c.Env {
				if ref := env.ValueFrom; ref != nil && ref.SecretKeyRef != nil && !mountable[ref.SecretKeyRef.Name] {
					return fmt.Errorf("%s %s with envVar %s referencing secret.secretName=%q is not allowed because service account %s does not reference that secret",
						list.what, c.Name, env.Name, ref.SecretKeyRef.Name, sa.Name)
				}
			}
		}
	}
	pullable := map[string]bool{}
	for _, s := range sa.ImagePullSecrets {
		pullable[s.Name] = true
	}
	for i, ref := range spec.ImagePullSecrets {
		if !pullable[ref.Name] {
			return fmt.Errorf("imagePullSecrets[%d].name=%q is not allowed because service account %s does not reference that imagePullSecret", i, ref.Name, sa.Name)
		}
	}
	return nil
}

// validateMirrorPodReferences is the plugin's check of mirror pods.
func validateMirrorPodReferences(pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return denied(fmt.Errorf("a mirror pod may not reference service accounts"))
	}
	if referencesSecrets(&pod.Spec) {
		return denied(fmt.Errorf("a mirror pod may not reference secrets"))
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			if src.ServiceAccountToken != nil {
				return denied(fmt.Errorf("a mirror pod may not use ServiceAccountToken volume projections"))
			}
		}
	}
	return nil
}

// referencesSecrets says whether a pod spec names any secret, as
// upstream's VisitPodSecretNames finds them.
func referencesSecrets(spec *corev1.PodSpec) bool {
	if len(spec.ImagePullSecrets) > 0 {
		return true
	}
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, c := range spec.EphemeralContainers {
		containers = append(containers, corev1.Container(c.EphemeralContainerCommon))
	}
	for _, c := range containers {
		for _, from := range c.EnvFrom {
			if from.SecretRef != nil {
				return true
			}
		}
		for _, env := range c.Env {
			if env.ValueFrom != nil && env.ValueFrom.SecretKeyRef != nil {
				return true
			}
		}
	}
	for _, v := range spec.Volumes {
		src := v.VolumeSource
		switch {
		case src.Secret != nil, src.AzureFile != nil,
			src.CephFS != nil && src.CephFS.SecretRef != nil,
			src.Cinder != nil && src.Cinder.SecretRef != nil,
			src.FlexVolume != nil && src.FlexVolume.SecretRef != nil,
			src.RBD != nil && src.RBD.SecretRef != nil,
			src.ScaleIO != nil && src.ScaleIO.SecretRef != nil,
			src.ISCSI != nil && src.ISCSI.SecretRef != nil,
			src.StorageOS != nil && src.StorageOS.SecretRef != nil,
			src.CSI != nil && src.CSI.NodePublishSecretRef != nil:
			return true
		case src.Projected != nil:
			for _, p := range src.Projected.Sources {
				if p.Secret != nil {
					return true
				}
			}
		}
	}
	return false
}

// getServiceAccount reads an account from the store. The default account
// is read a few times, a moment apart, before it counts as missing: in a
// namespace created a moment ago its controller may not have made it yet.
func (s *Server) getServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	res, ok := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("serviceaccounts"))
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
	}
	attempts := 1
	if name == defaultServiceAccountName {
		attempts = defaultServiceAccountAttempts
	}
	interval := time.Duration(100+rand.IntN(100)) * time.Millisecond
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(interval):
			}
		}
		obj, _, err := s.getObject(ctx, res, namespace, name)
		if err == nil {
			return obj.(*corev1.ServiceAccount), nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	// Upstream names the resource in the singular here.
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccount"}, name)
}
