package deploy

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// FieldManager owns the fields the deploy controller applies.
const FieldManager = "mini-deploy"

// SourceAnnotation on an applied object names the manifest it came from:
// "builtin:NAME.yaml" or the file's path relative to <data-dir>/manifests.
const SourceAnnotation = "mini.dev/manifest"

// resource finds where the API serves gvk. A kind the mapper does not
// know may have been added since it last looked (a CRD just applied), so
// it looks again, once per round.
func (d *Deployer) resource(gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, bool, error) {
	m, err := d.cfg.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) && !d.mapperReset {
		d.mapperReset = true
		d.cfg.Mapper.Reset()
		m, err = d.cfg.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil { // a NoKindMatchError says `no matches for kind "X" in version "G/V"`, as kubectl
		return nil, false, err
	}
	r := d.cfg.Client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return r.Namespace(namespace), true, nil
	}
	return r, false, nil
}

// applyObject applies one object of src by server-side apply and returns
// how the record names it.
func (d *Deployer) applyObject(ctx context.Context, src source, obj *unstructured.Unstructured) (objectRef, error) {
	obj = obj.DeepCopy()
	ns := obj.GetNamespace()
	if ns == "" {
		ns = metav1.NamespaceDefault
	}
	r, namespaced, err := d.resource(obj.GroupVersionKind(), ns)
	if err != nil {
		return objectRef{}, err
	}
	if namespaced {
		obj.SetNamespace(ns)
	} else {
		obj.SetNamespace("") // as kubectl apply: a namespace on a cluster-scoped object means nothing
	}
	// An object that existed before any manifest held it (kube-system, or
	// an app made with kubectl) is updated but not claimed: without the
	// annotation it is never pruned, so removing the file leaves it.
	// Built-in manifests claim theirs (a kube-dns Service made before
	// manifests existed), so that --disable removes them as k3s does.
	cur, err := r.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return objectRef{}, err
	}
	if err != nil || src.builtin || cur.GetAnnotations()[SourceAnnotation] != "" {
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[SourceAnnotation] = src.key
		obj.SetAnnotations(ann)
	}
	if _, err := r.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return objectRef{}, err
	}
	return refOf(obj), nil
}

// deleteObject deletes an object key deployed, unless its annotation now
// names another source (it moved to another file) or it is gone already.
func (d *Deployer) deleteObject(ctx context.Context, key string, ref objectRef) error {
	r, _, err := d.resource(schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind), ref.Namespace)
	if err != nil {
		if meta.IsNoMatchError(err) {
			return nil // the kind is gone, and its objects with it
		}
		return err
	}
	cur, err := r.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cur.GetAnnotations()[SourceAnnotation] != key || cur.GetDeletionTimestamp() != nil || systemNamespace(ref) {
		return nil
	}
	uid := cur.GetUID()
	background := metav1.DeletePropagationBackground
	err = r.Delete(ctx, ref.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &background})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // deleted or replaced meanwhile
	}
	if err != nil {
		return err
	}
	d.log.Info("deleted", "object", ref.String(), "source", key)
	return nil
}

// systemNamespace says whether ref is one of the namespaces the cluster
// cannot do without; no manifest's removal deletes them.
func systemNamespace(ref objectRef) bool {
	if ref.Kind != "Namespace" || ref.APIVersion != "v1" {
		return false
	}
	switch ref.Name {
	case metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, "kube-node-lease":
		return true
	}
	return false
}
