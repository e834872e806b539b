package history

import (
	"encoding/binary"
	"fmt"
	"hash"
	"hash/fnv"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
	"k8s.io/apimachinery/pkg/util/rand"
)

// maxPrefixLength keeps "<prefix>-<hash>" a valid object name: a hash is
// at most 10 characters, plus the dash.
const maxPrefixLength = 253 - 1 - 10

// deepHashObject writes obj to h as upstream's hashutil.DeepHashObject
// does, so that equal objects hash equally whatever their pointers.
func deepHashObject(h hash.Hash, obj any) {
	h.Reset()
	fmt.Fprintf(h, "%v", dump.ForHash(obj))
}

// ComputeHash is upstream's controller.ComputeHash: fnv32a of the pod
// template, plus the collision count if any, safely encoded. The
// DaemonSet controller names its revisions and labels its pods with it.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	deepHashObject(h, *template)
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// HashControllerRevision is upstream's hash of a revision's data (fnv32
// over the raw patch, then the probe, i.e. the collision count), safely
// encoded. The StatefulSet controller names its revisions with it.
func HashControllerRevision(revision *appsv1.ControllerRevision, probe *int32) string {
	h := fnv.New32()
	if len(revision.Data.Raw) > 0 {
		h.Write(revision.Data.Raw)
	}
	if revision.Data.Object != nil {
		deepHashObject(h, revision.Data.Object)
	}
	if probe != nil {
		h.Write([]byte(strconv.FormatInt(int64(*probe), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// RevisionName is "<prefix>-<hash>", the prefix cut so the name is valid.
func RevisionName(prefix, hash string) string {
	if len(prefix) > maxPrefixLength {
		prefix = prefix[:maxPrefixLength]
	}
	return prefix + "-" + hash
}
