package apiserver

import (
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/rbac"
	"mini.dev/mini/internal/registry"
)

// serveReview answers the access and identity reviews: kubectl auth
// can-i, can-i --list and whoami, and components checking tokens and
// permissions. Nothing is stored; the answer is the review with its status.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if info.Verb != "create" || info.Name != "" {
		s.writeError(w, r, apierrors.NewMethodNotSupported(res.GVR.GroupResource(), info.Verb))
		return
	}
	obj, _, err := s.readObject(w, r, res)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	u, _ := userFrom(r.Context())
	if err := s.review(u, info, obj); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeObject(w, r, http.StatusCreated, res, obj)
}

// review fills in obj's status.
func (s *Server) review(u user, info requestInfo, obj runtime.Object) error {
	switch o := obj.(type) {
	case *authorizationv1.SelfSubjectAccessReview:
		o.Status = s.accessStatus(u.Name, u.Groups, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authorizationv1.SubjectAccessReview:
		if o.Spec.User == "" && len(o.Spec.Groups) == 0 {
			return apierrors.NewInvalid(authorizationv1.SchemeGroupVersion.WithKind("SubjectAccessReview").GroupKind(), "",
				field.ErrorList{field.Invalid(field.NewPath("spec", "user"), o.Spec.User, "at least one of user or group must be specified")})
		}
		o.Status = s.accessStatus(o.Spec.User, o.Spec.Groups, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authorizationv1.LocalSubjectAccessReview:
		if ra := o.Spec.ResourceAttributes; ra == nil || ra.Namespace != info.Namespace {
			return apierrors.NewBadRequest("spec.resourceAttributes.namespace must match the namespace of the request")
		}
		o.Status = s.accessStatus(o.Spec.User, o.Spec.Groups, o.Spec.ResourceAttributes, nil)
	case *authorizationv1.SelfSubjectRulesReview:
		o.Status = s.rulesStatus(u, o.Spec.Namespace)
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	case *authenticationv1.TokenReview:
		o.Status = authenticationv1.TokenReviewStatus{}
		if s.tokens == nil {
			break
		}
		claims, err := s.tokens.verify(time.Now(), o.Spec.Token)
		if err != nil {
			o.Status.Error = err.Error()
			break
		}
		k := claims.Kubernetes
		o.Status.Authenticated = true
		o.Status.Audiences = claims.Audience
		o.Status.User = authenticationv1.UserInfo{Username: serviceAccountUser(k.Namespace, k.ServiceAccount.Name),
			UID: string(k.ServiceAccount.UID), Groups: serviceAccountGroups(k.Namespace)}
	}
	return nil
}

func (s *Server) accessStatus(name string, groups []string, ra *authorizationv1.ResourceAttributes,
	nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	attr := rbac.Attributes{User: name, Groups: groups}
	switch {
	case ra != nil:
		attr.ResourceRequest = true
		attr.Verb, attr.APIGroup, attr.Resource = ra.Verb, ra.Group, ra.Resource
		attr.Subresource, attr.Namespace, attr.Name = ra.Subresource, ra.Namespace, ra.Name
	case nra != nil:
		attr.Verb, attr.Path = nra.Verb, nra.Path
	default:
		return authorizationv1.SubjectAccessReviewStatus{EvaluationError: "neither resourceAttributes nor nonResourceAttributes given"}
	}
	ok, reason := s.allowed(user{Name: name, Groups: groups}, attr)
	return authorizationv1.SubjectAccessReviewStatus{Allowed: ok, Reason: reason}
}

// rulesStatus lists what a user may do in a namespace, for `kubectl auth
// can-i --list`.
func (s *Server) rulesStatus(u user, namespace string) authorizationv1.SubjectRulesReviewStatus {
	var rules []rbacv1.PolicyRule
	var evalErr string
	if s.authz != nil {
		var err error
		if rules, err = s.authz.RulesFor(u.Name, u.Groups, namespace); err != nil {
			evalErr = err.Error()
		}
	}
	st := authorizationv1.SubjectRulesReviewStatus{EvaluationError: evalErr, Incomplete: evalErr != ""}
	for _, r := range rules {
		if len(r.NonResourceURLs) > 0 {
			st.NonResourceRules = append(st.NonResourceRules, authorizationv1.NonResourceRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
			continue
		}
		st.ResourceRules = append(st.ResourceRules, authorizationv1.ResourceRule{
			Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
	}
	return st
}
