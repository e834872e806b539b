package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"mini.dev/mini/internal/registry"
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// Token lifetimes a TokenRequest may ask for, as upstream bounds them.
const (
	minTokenRequestSeconds = int64(minTokenLifetime / time.Second)
	maxTokenRequestSeconds = int64(1) << 32
)

// serviceAccountHooks are the server-side steps of serviceaccounts: the
// token subresource, which issues bound tokens.
func (s *Server) serviceAccountHooks() *hooks {
	return &hooks{subresources: map[string]subresourceHandler{"token": s.serveToken}}
}

// serveToken answers POST serviceaccounts/NAME/token with an
// authentication/v1 TokenRequest, as upstream's TokenREST does: the
// request's audiences (the API's by default) and lifetime (an hour by
// default, ten minutes at least), optionally bound to a pod or a secret
// of the namespace, which must exist (and carry the UID given, if any).
// The token authenticates as system:serviceaccount:NS:NAME for as long as
// it lives and what it is bound to exists.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, res *registry.Resource, info requestInfo) {
	if s.tokens == nil {
		s.writeError(w, r, notFound()) // no signing key: upstream serves no token subresource
		return
	}
	if err := onlyCreate(res, info); err != nil {
		s.writeError(w, r, err)
		return
	}
	if _, err := dryRun(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	obj, err := s.decodeSubresourceBody(r, tokenRequestGVK)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	tr, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		s.writeError(w, r, apierrors.NewBadRequest(fmt.Sprintf("not a TokenRequest object: %T", obj)))
		return
	}
	if err := subresourceNamespace(tr, info.Namespace); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.issueTokenRequest(r.Context(), res, info.Name, tr, time.Now()); err != nil {
		s.writeError(w, r, err)
		return
	}
	tr.GetObjectKind().SetGroupVersionKind(tokenRequestGVK)
	s.writeRaw(w, r, http.StatusCreated, tr)
}

// issueTokenRequest fills in a TokenRequest's defaults and status.
func (s *Server) issueTokenRequest(ctx context.Context, saRes *registry.Resource, name string, tr *authenticationv1.TokenRequest, now time.Time) error {
	if tr.Spec.ExpirationSeconds == nil {
		secs := int64(defaultTokenLifetime / time.Second)
		tr.Spec.ExpirationSeconds = &secs
	}
	if errs := validateTokenRequest(tr); len(errs) > 0 {
		return apierrors.NewInvalid(tokenRequestGVK.GroupKind(), "", errs)
	}
	obj, _, err := s.getObject(ctx, saRes, tr.Namespace, name)
	if err != nil {
		return err
	}
	sa := obj.(*corev1.ServiceAccount)
	claims := kubernetesClaims{Namespace: sa.Namespace, ServiceAccount: tokenRef{Name: sa.Name, UID: sa.UID}}
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		if err := s.bindToken(ctx, name, tr.Namespace, ref, &claims); err != nil {
			return err
		}
	}
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = slices.Clone(apiAudiences)
	}
	token, exp, err := s.tokens.issue(now, claims, tr.Spec.Audiences, time.Duration(*tr.Spec.ExpirationSeconds)*time.Second)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("failed to generate token: %w", err))
	}
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	return nil
}

// validateTokenRequest is upstream's ValidateTokenRequest.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	path := field.NewPath("spec", "expirationSeconds")
	switch secs := *tr.Spec.ExpirationSeconds; {
	case secs < minTokenRequestSeconds:
		errs = append(errs, field.Invalid(path, secs, "may not specify a duration less than 10 minutes"))
	case secs > maxTokenRequestSeconds:
		errs = append(errs, field.Invalid(path, secs, "may not specify a duration larger than 2^32 seconds"))
	}
	return errs
}

// bindToken checks the object a token is bound to and records it in the
// claims: a pod running as the service account (with the node it runs on,
// when that node exists) or a secret.
func (s *Server) bindToken(ctx context.Context, saName, namespace string, ref *authenticationv1.BoundObjectReference, claims *kubernetesClaims) error {
	gvk := schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind)
	var uid types.UID
	switch {
	case gvk.Group == "" && gvk.Kind == "Pod":
		obj, err := s.getCore(ctx, "pods", namespace, ref.Name)
		if err != nil {
			return err
		}
		pod := obj.(*corev1.Pod)
		if pod.Spec.ServiceAccountName != saName {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", saName))
		}
		uid = pod.UID
		claims.Pod = &tokenRef{Name: pod.Name, UID: pod.UID}
		if pod.Spec.NodeName != "" {
			if node, err := s.getCore(ctx, "nodes", "", pod.Spec.NodeName); err == nil {
				claims.Node = &tokenRef{Name: pod.Spec.NodeName, UID: node.(*corev1.Node).UID}
			}
		}
	case gvk.Group == "" && gvk.Kind == "Secret":
		obj, err := s.getCore(ctx, "secrets", namespace, ref.Name)
		if err != nil {
			return err
		}
		secret := obj.(*corev1.Secret)
		uid = secret.UID
		claims.Secret = &tokenRef{Name: secret.Name, UID: secret.UID}
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", gvk.String()))
	}
	if ref.UID != "" && ref.UID != uid {
		return apierrors.NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, ref.Name, fmt.Errorf(
			"the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return nil
}

// getCore reads an object of a core resource.
func (s *Server) getCore(ctx context.Context, resource, namespace, name string) (runtime.Object, error) {
	res, ok := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource(resource))
	if !ok {
		return nil, apierrors.NewNotFound(corev1.Resource(resource), name)
	}
	obj, _, err := s.getObject(ctx, res, namespace, name)
	return obj, err
}

// namespaceHooks are the server-side steps of namespaces: a new namespace
// gets its default service account and the cluster CA config map.
func (s *Server) namespaceHooks() *hooks {
	return &hooks{written: func(ctx context.Context, obj, old runtime.Object) {
		if obj == nil || old != nil {
			return
		}
		ns := obj.(*corev1.Namespace)
		// The namespace's creator may go away; what it started finishes.
		ctx = asLoopback(context.WithoutCancel(ctx))
		if err := s.ensureNamespaceDefaults(ctx, ns.Name); err != nil {
			s.log.Error("namespace defaults", "namespace", ns.Name, "err", err)
		}
	}}
}

// ensureNamespaceDefaults makes the "default" ServiceAccount and the
// "kube-root-ca.crt" ConfigMap (ca.crt: the cluster CA) of a namespace,
// as the loopback user, and brings the config map's CA up to date.
//
// This stands in for two of upstream's kube-controller-manager
// controllers that mini does not run yet: the serviceaccount controller
// (pkg/controller/serviceaccount), which creates "default" in every
// namespace and recreates it when deleted, and the root-ca-cert-publisher
// (pkg/controller/certificates/rootcacertpublisher), which keeps
// kube-root-ca.crt in every namespace. Pods cannot be created without
// the first (ServiceAccount admission) nor start without the second (their
// token volume projects it). When internal/controller/serviceaccount and
// its CA publisher run, they take this over: the namespace hook and the
// call in bootstrap go, and so does this function.
func (s *Server) ensureNamespaceDefaults(ctx context.Context, namespace string) error {
	saRes, ok1 := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("serviceaccounts"))
	cmRes, ok2 := s.cfg.Registry.Lookup(corev1.SchemeGroupVersion.WithResource("configmaps"))
	if !ok1 || !ok2 {
		return nil
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: defaultServiceAccountName}}
	if err := s.createIfMissing(ctx, saRes, namespace, sa, controllerManager); err != nil {
		return err
	}
	want := string(s.cfg.CA.CertPEM)
	obj, _, err := s.getObject(ctx, cmRes, namespace, rootCAConfigMapName)
	switch {
	case apierrors.IsNotFound(err):
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: rootCAConfigMapName, Annotations: map[string]string{rootCADescriptionKey: rootCADescription}},
			Data:       map[string]string{rootCAKey: want},
		}
		if _, err := s.createObject(ctx, cmRes, namespace, cm, writeOptions{manager: controllerManager}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s/%s: %w", namespace, rootCAConfigMapName, err)
		}
		return nil
	case err != nil:
		return err
	case obj.(*corev1.ConfigMap).Data[rootCAKey] == want:
		return nil
	}
	info := requestInfo{Verb: "update", GVR: cmRes.GVR, Namespace: namespace, Name: rootCAConfigMapName}
	_, err = s.updateObject(ctx, cmRes, info, writeOptions{manager: controllerManager}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		cm := cur.(*corev1.ConfigMap)
		cm.Data = map[string]string{rootCAKey: want}
		return cm, nil
	})
	return err
}

const (
	// controllerManager is the field manager of what the stand-ins for
	// kube-controller-manager's controllers write.
	controllerManager    = "kube-controller-manager"
	rootCADescriptionKey = "kubernetes.io/description"
	rootCADescription    = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints " +
		"such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
)

// bootstrapPodPrerequisites creates what pods need before the first one
// is admitted: the system priority classes, and the default service
// account and CA config map of each namespace the server creates.
func (s *Server) bootstrapPodPrerequisites(ctx context.Context) error {
	if err := s.bootstrapPriorityClasses(ctx); err != nil {
		return err
	}
	for _, ns := range defaultNamespaces {
		if err := s.ensureNamespaceDefaults(ctx, ns); err != nil {
			return fmt.Errorf("namespace %s: %w", ns, err)
		}
	}
	return nil
}
