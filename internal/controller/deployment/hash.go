package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// podTemplateHashLabel is upstream's DefaultDeploymentUniqueLabelKey: it
// tells the ReplicaSets (and their pods) of one Deployment apart.
const podTemplateHashLabel = appsDefaultUniqueLabelKey

const appsDefaultUniqueLabelKey = "pod-template-hash"

// computeHash is upstream's controller.ComputeHash: fnv32a over the
// template's deep dump, then the collision count, encoded with
// SafeEncodeString. It must match upstream bit for bit so that a
// ReplicaSet made by kube-controller-manager is recognised here and
// names look alike.
func computeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
