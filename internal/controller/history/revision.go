package history

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HashLabel is the label every revision made by New carries with its
// hash, as upstream's history.ControllerRevisionHashLabel.
const HashLabel = "controller.kubernetes.io/hash"

// DefaultHistoryLimit is how many old revisions a controller keeps when
// its revisionHistoryLimit is unset.
const DefaultHistoryLimit = 10

// TemplatePatch is the revision data upstream stores for DaemonSets and
// StatefulSets: a strategic merge patch that replaces spec.template with
// obj's. `kubectl rollout undo` applies exactly these bytes to roll back,
// and controllers compare them byte for byte to find the current revision.
func TemplatePatch(obj any) ([]byte, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding object: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decoding object: %w", err)
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		template = map[string]any{}
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}

// New is upstream's history.NewControllerRevision: a revision owned by
// parent (as its controller), labelled with templateLabels and its hash,
// holding data as revision number revision, named "<parent>-<hash>".
func New(parent metav1.Object, kind schema.GroupVersionKind, templateLabels map[string]string,
	data []byte, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	lbls := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		lbls[k] = v
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       parent.GetNamespace(),
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(parent, kind)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}
	hash := HashControllerRevision(cr, collisionCount)
	cr.Name = RevisionName(parent.GetName(), hash)
	cr.Labels[HashLabel] = hash
	return cr
}

// Sort orders revisions oldest first: by revision number, then creation
// time, then name, as upstream's SortControllerRevisions.
func Sort(revisions []*appsv1.ControllerRevision) {
	sort.SliceStable(revisions, func(i, j int) bool {
		a, b := revisions[i], revisions[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// Equal reports whether two revisions hold the same data. (Upstream
// also compares hash labels, but only when they parse as numbers, which
// encoded hashes almost never do; the data decides.)
func Equal(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// FindEqual returns the revisions equal to needle.
func FindEqual(revisions []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// NextRevision is one more than the highest revision number (1 when there
// are none).
func NextRevision(revisions []*appsv1.ControllerRevision) int64 {
	var max int64
	for _, r := range revisions {
		if r.Revision > max {
			max = r.Revision
		}
	}
	return max + 1
}
