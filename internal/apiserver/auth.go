package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/rbac"
	"mini.dev/mini/internal/registry"
)

// Well-known groups, as upstream names them.
const (
	groupMasters       = "system:masters"
	groupAuthenticated = "system:authenticated"
)

// user is an authenticated caller.
type user struct {
	Name   string
	UID    string
	Groups []string
}

type userKey struct{}

func userFrom(ctx context.Context) (user, bool) {
	u, ok := ctx.Value(userKey{}).(user)
	return u, ok
}

// authenticated identifies the caller, as kube-apiserver's authenticators
// do: a client certificate verified against the cluster CA (common name
// the user, organizations its groups), or a service-account bearer token.
// A caller with neither, or a bad token, gets 401.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := s.authenticate(r)
		if err != nil {
			s.writeError(w, r, apierrors.NewUnauthorized("Unauthorized"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, u)))
	})
}

func (s *Server) authenticate(r *http.Request) (user, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		cert := r.TLS.PeerCertificates[0]
		return user{Name: cert.Subject.CommonName, Groups: append(slices.Clone(cert.Subject.Organization), groupAuthenticated)}, nil
	}
	if token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && s.tokens != nil {
		return s.authenticateToken(r.Context(), strings.TrimSpace(token))
	}
	return user{}, errors.New("no credentials")
}

// authenticateToken verifies a service-account token and that what it
// names still exists: a token outlives neither its service account nor
// the pod it is bound to.
func (s *Server) authenticateToken(ctx context.Context, token string) (user, error) {
	claims, err := s.tokens.verify(time.Now(), token)
	if err != nil {
		return user{}, err
	}
	k := claims.Kubernetes
	if err := s.checkTokenObject(ctx, "serviceaccounts", k.Namespace, &k.ServiceAccount); err != nil {
		return user{}, err
	}
	if err := s.checkTokenObject(ctx, "pods", k.Namespace, k.Pod); err != nil {
		return user{}, err
	}
	if err := s.checkTokenObject(ctx, "secrets", k.Namespace, k.Secret); err != nil {
		return user{}, err
	}
	return user{Name: serviceAccountUser(k.Namespace, k.ServiceAccount.Name), UID: string(k.ServiceAccount.UID),
		Groups: serviceAccountGroups(k.Namespace)}, nil
}

// checkTokenObject checks that a core object a token names exists with
// the UID the token carries and is not being deleted.
func (s *Server) checkTokenObject(ctx context.Context, resource, namespace string, ref *tokenRef) error {
	if ref == nil {
		return nil
	}
	res, ok := s.cfg.Registry.Lookup(schema.GroupVersionResource{Version: "v1", Resource: resource})
	if !ok {
		return errBadToken
	}
	obj, _, err := s.getObject(ctx, res, namespace, ref.Name)
	if err != nil {
		return errBadToken
	}
	m, err := registry.ObjectMeta(obj)
	if err != nil || (ref.UID != "" && m.UID != ref.UID) || m.DeletionTimestamp != nil {
		return errBadToken
	}
	return nil
}

// authorize decides a request. Members of system:masters may do
// anything, as upstream's privileged-group authorizer lets them; everyone
// else is authorized by RBAC. A denial is upstream's 403, with RBAC's
// reason when it has one.
func (s *Server) authorize(ctx context.Context, info requestInfo) error {
	u, _ := userFrom(ctx)
	allowed, reason := s.allowed(u, rbac.Attributes{
		User: u.Name, Groups: u.Groups, Verb: info.Verb, APIGroup: info.GVR.Group, Resource: info.GVR.Resource,
		Subresource: info.Subresource, Namespace: info.Namespace, Name: info.Name, ResourceRequest: true,
	})
	if allowed {
		return nil
	}
	return forbidden(u, info, reason)
}

// allowed is the authorization decision and RBAC's reason.
func (s *Server) allowed(u user, attr rbac.Attributes) (bool, string) {
	if slices.Contains(u.Groups, groupMasters) {
		return true, ""
	}
	if s.authz == nil {
		return false, ""
	}
	ok, reason, err := s.authz.Authorize(attr)
	if err != nil {
		return false, err.Error()
	}
	return ok, reason
}

// authorizedPath guards a non-resource path (discovery, OpenAPI) with
// RBAC's nonResourceURLs rules.
func (s *Server) authorizedPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := userFrom(r.Context())
		verb := strings.ToLower(r.Method)
		if ok, reason := s.allowed(u, rbac.Attributes{User: u.Name, Groups: u.Groups, Verb: verb, Path: r.URL.Path}); !ok {
			msg := fmt.Sprintf("User %q cannot %s path %q", u.Name, verb, r.URL.Path)
			if reason != "" {
				msg += ": " + reason
			}
			s.writeError(w, r, apierrors.NewForbidden(schema.GroupResource{}, "", errors.New(msg)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// forbidden is upstream's 403 for a request, worded as kube-apiserver does:
// User "alice" cannot list resource "pods" in API group "" in the namespace "default".
func forbidden(u user, info requestInfo, reason string) error {
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
	if reason != "" {
		msg += ": " + reason
	}
	return apierrors.NewForbidden(schema.GroupResource{Group: info.GVR.Group, Resource: resource}, info.Name, errors.New(msg))
}
