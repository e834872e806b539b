package apiserver

import (
	"encoding/json"
	"net/http"
	"strconv"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// serveScale answers the scale subresource: an autoscaling/v1 Scale view
// of the object's replicas, which `kubectl scale` and autoscalers use.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if res.Scale == nil {
		s.writeError(w, r, notFound())
		return
	}
	switch info.Verb {
	case "get":
		obj, _, err := s.getObject(r.Context(), res, info.Namespace, info.Name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeRaw(w, r, http.StatusOK, toScale(res, obj))
	case "update", "patch":
		s.updateScale(w, r, res, info)
	default:
		s.writeError(w, r, apierrors.NewMethodNotSupported(schema.GroupResource{Group: res.GVR.Group, Resource: res.GVR.Resource + "/scale"}, info.Verb))
	}
}

func toScale(res *registry.Resource, obj runtime.Object) *autoscalingv1.Scale {
	spec, status, selector := res.Scale.Get(obj)
	m, _ := meta.Accessor(obj)
	sc := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp()},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}
	sc.GetObjectKind().SetGroupVersionKind(scaleGVK)
	return sc
}

// updateScale writes spec.replicas from a Scale sent whole (PUT) or as a
// patch of the current Scale.
func (s *Server) updateScale(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	body, opts, err := readWrite(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	patchType := types.PatchType(mediaTypeOf(r))
	if info.Verb == "patch" && patchType == types.ApplyYAMLPatchType {
		s.writeError(w, r, unsupportedMediaType(string(patchType), patchTypes[:3]...))
		return
	}
	updated, err := s.updateObject(r.Context(), res, info, opts, func(cur runtime.Object, curRev int64) (runtime.Object, error) {
		want := &autoscalingv1.Scale{}
		if info.Verb == "update" {
			if err := s.decodeOptions(r, body, want); err != nil {
				return nil, err
			}
		} else {
			curJSON, err := json.Marshal(toScale(res, cur))
			if err != nil {
				return nil, apierrors.NewInternalError(err)
			}
			patched, err := applyPatch(patchType, scaleGVK.GroupKind(), curJSON, body, &autoscalingv1.Scale{})
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(patched, want); err != nil {
				return nil, apierrors.NewBadRequest(err.Error())
			}
		}
		if want.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), info.Name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), want.Spec.Replicas, "must be greater than or equal to 0")})
		}
		if rv := want.ResourceVersion; rv != "" && rv != strconv.FormatInt(curRev, 10) {
			return nil, conflict(res, info.Name)
		}
		res.Scale.Set(cur, want.Spec.Replicas)
		return cur, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeRaw(w, r, http.StatusOK, toScale(res, updated))
}
