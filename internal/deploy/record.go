package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The record of what each manifest deployed: one ConfigMap, so that it
// survives restarts and `kubectl get cm -n kube-system mini-manifests -o
// yaml` shows it.
const (
	recordNamespace = metav1.NamespaceSystem
	recordName      = "mini-manifests"
	recordKey       = "sources.json"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// objectRef names one applied object.
type objectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func refOf(o *unstructured.Unstructured) objectRef {
	return objectRef{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: o.GetNamespace(), Name: o.GetName()}
}

// String is how logs name an object: "Service kube-system/kube-dns".
func (r objectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// record maps a source's key to the objects applied from it.
type record map[string][]objectRef

// without is refs less those in keep.
func without(refs, keep []objectRef) []objectRef {
	var out []objectRef
	for _, r := range refs {
		if !slices.Contains(keep, r) {
			out = append(out, r)
		}
	}
	return out
}

// union is a followed by those of b not in a.
func union(a, b []objectRef) []objectRef {
	out := slices.Clone(a)
	for _, r := range b {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func (d *Deployer) loadRecord(ctx context.Context) (record, error) {
	cm, err := d.cfg.Client.Resource(configMaps).Namespace(recordNamespace).Get(ctx, recordName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return record{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the record %s/%s: %w", recordNamespace, recordName, err)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", recordKey)
	rec := record{}
	if data == "" {
		return rec, nil
	}
	if err := json.Unmarshal([]byte(data), &rec); err != nil {
		// A record mangled by hand is started afresh: objects it named
		// keep their annotation and are adopted again by their files.
		d.log.Error("the record of deployed manifests is unreadable, starting a new one",
			"configmap", recordNamespace+"/"+recordName, "err", err)
		return record{}, nil
	}
	return rec, nil
}

func (d *Deployer) saveRecord(ctx context.Context, rec record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": recordName, "namespace": recordNamespace},
		"data":     map[string]any{recordKey: string(b)},
	}}
	_, err = d.cfg.Client.Resource(configMaps).Namespace(recordNamespace).Apply(ctx, recordName, cm,
		metav1.ApplyOptions{FieldManager: FieldManager, Force: true})
	if err != nil {
		return fmt.Errorf("writing the record %s/%s: %w", recordNamespace, recordName, err)
	}
	return nil
}
