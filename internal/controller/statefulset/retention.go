package statefulset

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The retention policy is carried out by the garbage collector: a PVC
// that must go with the set gets an owner reference to the set, one that
// must go when its pod is scaled away gets an owner reference to that pod
// (set only once the pod is outside the replica range). Retain removes
// our references.

var podKind = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}

func retentionPolicy(set *appsv1.StatefulSet) appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy {
	p := appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
		WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
		WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
	}
	if r := set.Spec.PersistentVolumeClaimRetentionPolicy; r != nil {
		if r.WhenDeleted != "" {
			p.WhenDeleted = r.WhenDeleted
		}
		if r.WhenScaled != "" {
			p.WhenScaled = r.WhenScaled
		}
	}
	return p
}

// updateClaimOwnerRefs makes claim's owner references say what the
// policy wants for pod; it reports whether it changed them.
func updateClaimOwnerRefs(claim *corev1.PersistentVolumeClaim, set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	const del = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	setKind := metav1.TypeMeta{APIVersion: controllerKind.GroupVersion().String(), Kind: controllerKind.Kind}
	p := retentionPolicy(set)
	scaledDown := !inOrdinalRange(pod, set)
	wantSet := p.WhenDeleted == del && !(p.WhenScaled == del && scaledDown)
	wantPod := p.WhenScaled == del && scaledDown
	changed := false
	if wantSet {
		changed = setOwnerRef(claim, set, setKind) || changed
	} else {
		changed = removeOwnerRef(claim, set) || changed
	}
	if wantPod {
		changed = setOwnerRef(claim, pod, podKind) || changed
	} else {
		changed = removeOwnerRef(claim, pod) || changed
	}
	return changed
}

func setOwnerRef(target, owner metav1.Object, kind metav1.TypeMeta) bool {
	for _, r := range target.GetOwnerReferences() {
		if r.UID == owner.GetUID() {
			return false
		}
	}
	target.SetOwnerReferences(append(target.GetOwnerReferences(), metav1.OwnerReference{
		APIVersion: kind.APIVersion, Kind: kind.Kind, Name: owner.GetName(), UID: owner.GetUID(),
	}))
	return true
}

func removeOwnerRef(target, owner metav1.Object) bool {
	refs := target.GetOwnerReferences()
	var kept []metav1.OwnerReference
	for _, r := range refs {
		if r.UID != owner.GetUID() {
			kept = append(kept, r)
		}
	}
	if len(kept) == len(refs) {
		return false
	}
	target.SetOwnerReferences(kept)
	return true
}

// claimsMatchRetention reports whether pod's existing PVCs already carry
// the owner references the policy wants.
func (c *Controller) claimsMatchRetention(set *appsv1.StatefulSet, pod *corev1.Pod) (bool, error) {
	for _, claim := range claimsFor(set, pod) {
		existing, err := c.pvcLister.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		if apierrors.IsNotFound(err) {
			continue // balanced once it exists
		}
		if err != nil {
			return false, fmt.Errorf("getting PVC %s: %w", claim.Name, err)
		}
		if updateClaimOwnerRefs(existing.DeepCopy(), set, pod) {
			return false, nil
		}
	}
	return true, nil
}

// updateClaimsForRetention writes the owner references the policy wants
// on pod's PVCs.
func (c *Controller) updateClaimsForRetention(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	for _, claim := range claimsFor(set, pod) {
		existing, err := c.pvcLister.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		if apierrors.IsNotFound(err) {
			// Just created and not yet in our cache: read it from the API.
			existing, err = c.client.CoreV1().PersistentVolumeClaims(claim.Namespace).Get(ctx, claim.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("getting PVC %s: %w", claim.Name, err)
		}
		u := existing.DeepCopy()
		if !updateClaimOwnerRefs(u, set, pod) {
			continue
		}
		if _, err := c.client.CoreV1().PersistentVolumeClaims(u.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating owner references of PVC %s: %w", u.Name, err)
		}
	}
	return nil
}

// claimIsStale reports whether one of pod's PVCs still belongs to an
// earlier pod of the same name (owner reference with another UID): it is
// about to be garbage collected and the pod must wait for a fresh one.
func (c *Controller) claimIsStale(set *appsv1.StatefulSet, pod *corev1.Pod) (bool, error) {
	if retentionPolicy(set).WhenScaled == appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		return false, nil
	}
	for _, claim := range claimsFor(set, pod) {
		existing, err := c.pvcLister.PersistentVolumeClaims(claim.Namespace).Get(claim.Name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("getting PVC %s: %w", claim.Name, err)
		}
		for _, r := range existing.OwnerReferences {
			if r.Kind == podKind.Kind && r.APIVersion == podKind.APIVersion && r.Name == pod.Name && r.UID != pod.UID {
				return true, nil
			}
		}
	}
	return false, nil
}
