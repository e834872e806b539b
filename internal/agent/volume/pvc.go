package volume

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// setUpClaim resolves a persistentVolumeClaim volume to its bound
// PersistentVolume's directory on this node. Only node-local volumes
// (hostPath and local PersistentVolumes, which a local-path provisioner
// makes) can be mounted; the binding cannot change while the pod lives,
// so it is looked up once per pod.
func (m *Manager) setUpClaim(ctx context.Context, p *podVolumes, pod *corev1.Pod, v *corev1.Volume) (string, error) {
	if path, ok := p.claims[v.Name]; ok {
		return path, nil
	}
	if m.cfg.Client == nil {
		return "", errors.New("no API client to read persistentvolumeclaims")
	}
	name := v.PersistentVolumeClaim.ClaimName
	pvc, err := m.cfg.Client.CoreV1().PersistentVolumeClaims(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		// kubelet's desired state of world populator says the same.
		return "", fmt.Errorf("PVC %s/%s has non-bound phase (%q) or empty pvc.Spec.VolumeName (%q)",
			pod.Namespace, name, pvc.Status.Phase, pvc.Spec.VolumeName)
	}
	pv, err := m.cfg.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Namespace != pod.Namespace || ref.Name != name || (ref.UID != "" && ref.UID != pvc.UID)) {
		return "", fmt.Errorf("the PVC %s/%s is bound to PV %s, whose claimRef is %s/%s", pod.Namespace, name, pv.Name, ref.Namespace, ref.Name)
	}
	var path string
	switch {
	case pv.Spec.HostPath != nil:
		path = pv.Spec.HostPath.Path
		if err := checkHostPathType(path, pv.Spec.HostPath.Type); err != nil {
			return "", err
		}
	case pv.Spec.Local != nil:
		path = pv.Spec.Local.Path
		if err := checkHostPathType(path, ptrTo(corev1.HostPathDirectory)); err != nil {
			return "", err
		}
		// Local volumes take the pod's fsGroup, as kubelet's local
		// plugin does (hostPath ones do not).
		if g := fsGroup(pod); g != nil && !v.PersistentVolumeClaim.ReadOnly {
			if err := setOwnership(path, *g, false, fsGroupPolicy(pod)); err != nil {
				return "", err
			}
		}
	default:
		return "", fmt.Errorf("PersistentVolume %q is not a hostPath or local volume, which are the only ones this node mounts", pv.Name)
	}
	p.claims[v.Name] = path
	return path, nil
}

func ptrTo[T any](v T) *T { return &v }
