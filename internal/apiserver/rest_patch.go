package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
)

// patchTypes are the patch media types served. Server-side apply
// (application/apply-patch+yaml) is not served yet: it gets 415.
var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType), string(types.StrategicMergePatchType)}

// patch answers PATCH of an object or a subresource: the patch is applied
// to the current object's JSON, and the result goes through the same
// update path as a PUT.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	patchType := types.PatchType(mediaTypeOf(r))
	switch patchType {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
	default:
		s.writeError(w, r, unsupportedMediaType(string(patchType), patchTypes...))
		return
	}
	body, err := readBody(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	dry, err := dryRun(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	validation, err := fieldValidation(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	updated, err := s.updateObject(r.Context(), res, info, dry, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		cur.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		patched, err := applyPatch(patchType, curJSON, body, res.New())
		if err != nil {
			return nil, err
		}
		obj := res.New()
		if err := s.decodeJSON(w, res, patched, obj, validation); err != nil {
			return nil, err
		}
		return obj, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, res, updated)
}

// applyPatch applies a patch of the given type to a JSON document; schema
// is an object of the patched kind, whose struct tags drive strategic
// merge.
func applyPatch(patchType types.PatchType, doc, patch []byte, schema runtime.Object) ([]byte, error) {
	switch patchType {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(doc)
		if err != nil {
			return nil, apierrors.NewInvalid(schema.GetObjectKind().GroupVersionKind().GroupKind(), "",
				field.ErrorList{field.Invalid(field.NewPath("patch"), string(patch), err.Error())})
		}
		return out, nil
	case types.MergePatchType:
		out, err := jsonpatch.MergePatch(doc, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		out, err := strategicpatch.StrategicMergePatch(doc, patch, schema)
		if err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("unable to apply the strategic merge patch: %v", err))
		}
		return out, nil
	}
	return nil, unsupportedMediaType(string(patchType), patchTypes...)
}
