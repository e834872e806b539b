package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"mini.dev/mini/internal/registry"
)

// patchTypes are the patch media types served.
var patchTypes = []string{string(types.JSONPatchType), string(types.MergePatchType),
	string(types.StrategicMergePatchType), string(types.ApplyYAMLPatchType)}

// patch answers PATCH of an object or a subresource. JSON, merge and
// strategic merge patches are applied to the current object's JSON;
// server-side apply merges the applied configuration with field
// ownership. Either result goes through the same update path as a PUT.
func (s *Server) patch(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	patchType := types.PatchType(mediaTypeOf(r))
	switch patchType {
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType:
	default:
		s.writeError(w, r, unsupportedMediaType(string(patchType), patchTypes...))
		return
	}
	body, opts, err := readWrite(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	validation, err := fieldValidation(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var updated runtime.Object
	if patchType == types.ApplyYAMLPatchType {
		updated, err = s.apply(w, r, res, info, body, opts, validation)
	} else {
		updated, err = s.updateObject(r.Context(), res, info, opts, func(cur runtime.Object, _ int64) (runtime.Object, error) {
			cur.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
			curJSON, err := json.Marshal(cur)
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			patched, err := applyPatch(patchType, res.GroupVersionKind().GroupKind(), curJSON, body, res.New())
			if err != nil {
				return nil, err
			}
			obj := res.New()
			if err := s.decodeJSON(w, res, patched, obj, validation); err != nil {
				return nil, err
			}
			return obj, nil
		})
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusOK, res, updated)
}

// apply is server-side apply: the applied configuration is merged into the
// live object by the field manager, which records who owns each field and
// refuses, unless forced, to take a field another manager owns with a
// different value. Applying to a missing object creates it.
func (s *Server) apply(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo, body []byte,
	opts writeOptions, validation string) (runtime.Object, error) {
	if r.URL.Query().Get("fieldManager") == "" {
		return nil, apierrors.NewInvalid(schema.GroupKind{Group: "meta.k8s.io", Kind: "PatchOptions"}, "",
			field.ErrorList{field.Required(field.NewPath("fieldManager"), "is required for apply patch")})
	}
	force := r.URL.Query().Get("force") == "true"
	jsonBody, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	applied := res.New()
	if err := s.decodeJSON(w, res, jsonBody, applied, validation); err != nil {
		return nil, err
	}
	if m, err := meta.Accessor(applied); err == nil && m.GetName() != info.Name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name))
	}
	fm, err := s.fields.get(s.codecs.scheme, res, info.Subresource)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	merge := func(live runtime.Object) (runtime.Object, error) {
		live.GetObjectKind().SetGroupVersionKind(res.GroupVersionKind())
		return fm.Apply(live, applied.DeepCopyObject(), opts.manager, force)
	}
	managed := writeOptions{dry: opts.dry} // the field manager has done its part
	obj, err := s.updateObject(r.Context(), res, info, managed, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		return merge(cur)
	})
	if !apierrors.IsNotFound(err) || info.Subresource != "" {
		return obj, err
	}
	live := res.New()
	if m, err := meta.Accessor(live); err == nil {
		m.SetName(info.Name)
		m.SetNamespace(info.Namespace)
	}
	created, err := merge(live)
	if err != nil {
		return nil, err
	}
	return s.createObject(r.Context(), res, info.Namespace, created, managed)
}

// applyPatch applies a JSON, merge or strategic merge patch to a JSON
// document; schema is an object of the patched kind, whose struct tags
// drive strategic merge.
func applyPatch(patchType types.PatchType, kind schema.GroupKind, doc, patch []byte, schema runtime.Object) ([]byte, error) {
	switch patchType {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(doc)
		if err != nil {
			return nil, apierrors.NewInvalid(kind, "", field.ErrorList{field.Invalid(field.NewPath("patch"), string(patch), err.Error())})
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
