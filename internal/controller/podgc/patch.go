package podgc

import (
	"encoding/json"

	"k8s.io/apimachinery/pkg/types"
)

// jsonPatch is a strategic merge patch of a pod's status that only applies
// to the pod with that UID, as upstream's PatchPodStatus.
func jsonPatch(uid types.UID, status map[string]any) ([]byte, error) {
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"uid": uid},
		"status":   status,
	})
}
