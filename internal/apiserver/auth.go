package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Well-known groups, as upstream names them.
const (
	groupMasters       = "system:masters"
	groupAuthenticated = "system:authenticated"
)

// user is an authenticated caller.
type user struct {
	Name   string
	Groups []string
}

type userKey struct{}

func userFrom(ctx context.Context) (user, bool) {
	u, ok := ctx.Value(userKey{}).(user)
	return u, ok
}

// authenticated identifies the caller from its client certificate, which
// TLS has already verified against the cluster CA: the common name is the
// user and the organizations are its groups. A caller without one gets 401.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		cert := r.TLS.PeerCertificates[0]
		u := user{Name: cert.Subject.CommonName, Groups: append(slices.Clone(cert.Subject.Organization), groupAuthenticated)}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

// authorize decides whether the caller may make the request. Members of
// system:masters may do anything, as upstream; everyone else is refused
// until RBAC is served.
func authorize(ctx context.Context, info requestInfo) error {
	u, _ := userFrom(ctx)
	if slices.Contains(u.Groups, groupMasters) {
		return nil
	}
	return forbidden(u, info)
}

// forbidden is upstream's 403 for a request, worded as kube-apiserver does:
// User "alice" cannot list resource "pods" in API group "" in the namespace "default".
func forbidden(u user, info requestInfo) error {
	resource := info.GVR.Resource
	if info.Subresource != "" {
		resource += "/" + info.Subresource
	}
	msg := fmt.Sprintf("User %q cannot %s resource %q in API group %q", u.Name, info.Verb, resource, info.GVR.Group)
	if info.Namespace != "" {
		msg += fmt.Sprintf(" in the namespace %q", info.Namespace)
	} else {
		msg += " at the cluster scope"
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: info.GVR.Group, Resource: resource}, info.Name, errors.New(msg))
}
