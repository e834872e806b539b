package apiserver

import (
	"context"
	"fmt"
	"mime"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"mini.dev/mini/internal/registry"
)

// podHooks are the server-side steps of pods: admission, graceful
// deletion, and the binding and eviction subresources.
func (s *Server) podHooks() *hooks {
	return &hooks{
		admit: func(ctx context.Context, obj, old runtime.Object, sub string) (func(), error) {
			res, _ := s.cfg.Registry.Lookup(podsGVR)
			return nil, s.admitPod(ctx, res, obj, old, sub)
		},
		gracePeriod: func(obj runtime.Object, opts metav1.DeleteOptions) (int64, bool) {
			secs := podGracePeriod(obj.(*corev1.Pod), opts)
			return secs, secs > 0
		},
		subresources: map[string]subresourceHandler{
			"binding":  s.serveBinding,
			"eviction": s.serveEviction,
			// Served by the node's kubelet endpoint (pods_stream.go).
			"log":         s.servePodLog,
			"exec":        s.servePodExec,
			"attach":      s.servePodAttach,
			"portforward": s.servePodPortForward,
		},
	}
}

// podGracePeriod is upstream's podStrategy.CheckGracefulDelete: the
// requested grace period, else the pod's own (30s by default); none for a
// pod that no node runs (unscheduled or finished), since nobody has to
// stop it; a negative one counts as a second.
func podGracePeriod(pod *corev1.Pod, opts metav1.DeleteOptions) int64 {
	var secs int64
	switch {
	case opts.GracePeriodSeconds != nil:
		secs = *opts.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		secs = 0
	}
	if secs < 0 {
		secs = 1
	}
	return secs
}

// decodeSubresourceBody decodes the body of a POST to a subresource
// (Binding, Eviction, TokenRequest) in any media type, into the kind its
// apiVersion and kind name, or into def when the body names none.
func (s *Server) decodeSubresourceBody(r *http.Request, def schema.GroupVersionKind) (runtime.Object, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	mediaType := mediaJSON
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mediaType, _, err = mime.ParseMediaType(ct); err != nil {
			return nil, unsupportedMediaType(ct)
		}
	}
	decoder := runtime.Decoder(s.codecs.json)
	switch mediaType {
	case mediaProtobuf:
		decoder = s.codecs.protobuf
	case mediaYAML:
		if body, err = yaml.YAMLToJSON(body); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid YAML: %v", err))
		}
	case mediaJSON:
	default:
		return nil, unsupportedMediaType(mediaType)
	}
	obj, _, err := decoder.Decode(body, &def, nil)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return obj, nil
}

// subresourceNamespace makes a subresource object's namespace the URL's,
// as upstream's create handler does.
func subresourceNamespace(m metav1.Object, namespace string) error {
	switch m.GetNamespace() {
	case "":
		m.SetNamespace(namespace)
	case namespace:
	default:
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	return nil
}

// writeCreatedStatus answers a subresource POST that creates nothing
// visible (binding, eviction) as upstream does: 201 and a Success Status.
func (s *Server) writeCreatedStatus(w http.ResponseWriter, r *http.Request) {
	s.writeRaw(w, r, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Code:     http.StatusCreated,
	})
}

// onlyCreate refuses every verb but POST on a create-only subresource.
func onlyCreate(res *registry.Resource, info requestInfo) error {
	if info.Verb == "create" {
		return nil
	}
	return apierrors.NewMethodNotSupported(schema.GroupResource{Group: res.GVR.Group, Resource: res.GVR.Resource + "/" + info.Subresource}, info.Verb)
}
