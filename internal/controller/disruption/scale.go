package disruption

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// scaleOf is one controller's identity and the replicas it asks for.
type scaleOf struct {
	uid      types.UID
	replicas int32
}

// finder resolves a pod's controller reference to the workload whose
// replicas count; nil when the reference is not its kind.
type finder func(ref *metav1.OwnerReference, namespace string) (*scaleOf, error)

// expectedScale sums the replicas of the controllers of the pods; pods
// without a controller are returned by name, a controller of a kind no
// finder knows is an error, as upstream's "found no controllers".
func (c *Controller) expectedScale(pods []*corev1.Pod) (int32, []string, error) {
	scales := map[types.UID]int32{}
	var unmanaged []string
	finders := []finder{c.replicaSetScale, c.deploymentScale, c.statefulSetScale}
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, ok := scales[ref.UID]; ok {
			continue
		}
		found := false
		for _, find := range finders {
			s, err := find(ref, pod.Namespace)
			if err != nil {
				return 0, nil, err
			}
			if s != nil {
				scales[s.uid], found = s.replicas, true
				break
			}
		}
		if !found {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
	}
	var n int32
	for _, r := range scales {
		n += r
	}
	return n, unmanaged, nil
}

// isKind says whether ref names kind in one of groups.
func isKind(ref *metav1.OwnerReference, kind string, groups ...string) (bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return false, err
	}
	if ref.Kind != kind {
		return false, nil
	}
	for _, g := range groups {
		if gv.Group == g {
			return true, nil
		}
	}
	return false, nil
}

// replicaSetScale counts a ReplicaSet of its own; one a Deployment
// controls counts through the Deployment.
func (c *Controller) replicaSetScale(ref *metav1.OwnerReference, namespace string) (*scaleOf, error) {
	if ok, err := isKind(ref, "ReplicaSet", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	rs, err := c.replicaSets.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil, nil //nolint:nilerr // not found: not this finder's pod
	}
	if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
		return nil, nil
	}
	return &scaleOf{rs.UID, ptr.Deref(rs.Spec.Replicas, 1)}, nil
}

func (c *Controller) deploymentScale(ref *metav1.OwnerReference, namespace string) (*scaleOf, error) {
	if ok, err := isKind(ref, "ReplicaSet", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	rs, err := c.replicaSets.ReplicaSets(namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return nil, nil //nolint:nilerr // not found: not this finder's pod
	}
	owner := metav1.GetControllerOf(rs)
	if owner == nil {
		return nil, nil
	}
	if ok, err := isKind(owner, "Deployment", "apps", "extensions"); !ok || err != nil {
		return nil, err
	}
	d, err := c.deployments.Deployments(namespace).Get(owner.Name)
	if err != nil || d.UID != owner.UID {
		return nil, nil //nolint:nilerr // not found: not this finder's pod
	}
	return &scaleOf{d.UID, ptr.Deref(d.Spec.Replicas, 1)}, nil
}

func (c *Controller) statefulSetScale(ref *metav1.OwnerReference, namespace string) (*scaleOf, error) {
	if ok, err := isKind(ref, "StatefulSet", "apps"); !ok || err != nil {
		return nil, err
	}
	ss, err := c.statefulSets.StatefulSets(namespace).Get(ref.Name)
	if err != nil || ss.UID != ref.UID {
		return nil, nil //nolint:nilerr // not found: not this finder's pod
	}
	return &scaleOf{ss.UID, ptr.Deref(ss.Spec.Replicas, 1)}, nil
}
