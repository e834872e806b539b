package registry

import (
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// reviewResources are the access and identity reviews: the server answers
// them from its authorizer and authenticator; nothing is stored.
func reviewResources() []*Resource {
	return []*Resource{
		review(authorizationv1.SchemeGroupVersion.WithResource("selfsubjectaccessreviews"), "SelfSubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }),
		review(authorizationv1.SchemeGroupVersion.WithResource("selfsubjectrulesreviews"), "SelfSubjectRulesReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }),
		review(authorizationv1.SchemeGroupVersion.WithResource("subjectaccessreviews"), "SubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }),
		review(authorizationv1.SchemeGroupVersion.WithResource("localsubjectaccessreviews"), "LocalSubjectAccessReview", true,
			func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }),
		review(authenticationv1.SchemeGroupVersion.WithResource("selfsubjectreviews"), "SelfSubjectReview", false,
			func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }),
		review(authenticationv1.SchemeGroupVersion.WithResource("tokenreviews"), "TokenReview", false,
			func() runtime.Object { return &authenticationv1.TokenReview{} }),
	}
}

func review(gvr schema.GroupVersionResource, kind string, namespaced bool, newObj func() runtime.Object) *Resource {
	return &Resource{
		GVR: gvr, Kind: kind, SingularName: strings.ToLower(kind), Namespaced: namespaced, Virtual: true,
		New: newObj,
		// Reviews have no list kind; discovery and OpenAPI never ask for one.
		NewList: nil,
	}
}
