package apiserver

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	namespacesGVR = corev1.SchemeGroupVersion.WithResource("namespaces")
	metadataPath  = field.NewPath("metadata")
)

// serveAPI routes an authenticated request: discovery, then the resource
// verbs.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && isDiscoveryPath(r.URL.Path) {
		s.authorizedPath(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !s.serveDiscovery(w, r) {
				s.writeError(w, r, notFound())
			}
		})).ServeHTTP(w, r)
		return
	}
	q := r.URL.Query()
	info, ok := parseResourcePath(r.Method, r.URL.Path, q.Get("watch") == "true" || q.Get("watch") == "1")
	if !ok {
		s.writeError(w, r, notFound())
		return
	}
	res, ok := s.cfg.Registry.Lookup(info.GVR)
	if !ok || (info.Subresource != "" && !res.HasSubresource(info.Subresource) && s.hooksOf(res).subresources[info.Subresource] == nil) ||
		(info.Namespace != "" && !res.Namespaced) {
		s.writeError(w, r, notFound())
		return
	}
	if res.Namespaced && info.Namespace == "" && info.Verb != "list" && info.Verb != "watch" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	if res.Virtual {
		if err := s.authorize(r.Context(), info); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.serveReview(w, r, res, info)
		return
	}
	if res.ReadOnly && info.Verb != "get" && info.Verb != "list" && info.Verb != "watch" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	if err := s.authorize(r.Context(), info); err != nil {
		s.writeError(w, r, err)
		return
	}
	if handle := s.hooksOf(res).subresources[info.Subresource]; info.Subresource != "" && handle != nil {
		handle(w, r, res, info)
		return
	}
	if read := s.hooksOf(res).read; read != nil && info.Subresource == "" && (info.Verb == "get" || info.Verb == "list" || info.Verb == "watch") {
		read(w, r, res, info)
		return
	}
	if info.Subresource == "scale" {
		s.serveScale(w, r, res, info)
		return
	}
	switch info.Verb {
	case "get":
		s.get(w, r, res, info)
	case "list":
		s.list(w, r, res, info)
	case "watch":
		s.watch(w, r, res, info)
	case "create":
		s.create(w, r, res, info)
	case "update":
		s.update(w, r, res, info)
	case "patch":
		s.patch(w, r, res, info)
	case "delete":
		s.remove(w, r, res, info)
	case "deletecollection":
		s.deleteCollection(w, r, res, info)
	}
}

// isDiscoveryPath says whether path is /api, /apis, a group or a group
// version: the discovery documents.
func isDiscoveryPath(path string) bool {
	parts := splitPath(path)
	switch {
	case len(parts) == 0:
		return false
	case parts[0] == "api":
		return len(parts) <= 2
	case parts[0] == "apis":
		return len(parts) <= 3
	}
	return false
}

// notFound is upstream's answer for a path it does not serve.
func notFound() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource", Details: &metav1.StatusDetails{},
	}}
}

// defaultNamespaces exist from the start, as on every cluster.
var defaultNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates what every cluster has before a client connects, as
// the server's own privileged user.
func (s *Server) bootstrap(ctx context.Context) error {
	ctx = asLoopback(ctx)
	nsRes, ok := s.cfg.Registry.Lookup(namespacesGVR)
	if !ok {
		return s.bootstrapRBAC(ctx)
	}
	for _, name := range defaultNamespaces {
		if _, _, err := s.getObject(ctx, nsRes, "", name); err == nil {
			continue // a restart: no write, and no field manager to build
		}
		_, err := s.createObject(ctx, nsRes, "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}},
			writeOptions{manager: "kube-apiserver"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if err := s.bootstrapPodPrerequisites(ctx); err != nil {
		return err
	}
	s.bootstrapKubernetesService(ctx)
	return s.bootstrapRBAC(ctx)
}
