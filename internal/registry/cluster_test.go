package registry

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestClusterDiscovery checks what discovery says of each cluster
// resource against upstream's kube-apiserver.
func TestClusterDiscovery(t *testing.T) {
	reg, err := New(clusterResources()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		gvr          schema.GroupVersionResource
		kind         string
		namespaced   bool
		short        []string
		categories   []string
		subresources []string
		readOnly     bool
	}{
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "services"}, kind: "Service", namespaced: true, short: []string{"svc"}, categories: []string{"all"}, subresources: []string{"status"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "endpoints"}, kind: "Endpoints", namespaced: true, short: []string{"ep"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}, kind: "ServiceAccount", namespaced: true, short: []string{"sa"}, subresources: []string{"token"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "nodes"}, kind: "Node", short: []string{"no"}, subresources: []string{"status"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "events"}, kind: "Event", namespaced: true, short: []string{"ev"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumes"}, kind: "PersistentVolume", short: []string{"pv"}, subresources: []string{"status"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}, kind: "PersistentVolumeClaim", namespaced: true, short: []string{"pvc"}, subresources: []string{"status"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "resourcequotas"}, kind: "ResourceQuota", namespaced: true, short: []string{"quota"}, subresources: []string{"status"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "limitranges"}, kind: "LimitRange", namespaced: true, short: []string{"limits"}},
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "componentstatuses"}, kind: "ComponentStatus", short: []string{"cs"}, readOnly: true},
		{gvr: schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}, kind: "EndpointSlice", namespaced: true},
		{gvr: schema.GroupVersionResource{Group: "events.k8s.io", Version: "v1", Resource: "events"}, kind: "Event", namespaced: true, short: []string{"ev"}},
		{gvr: schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}, kind: "Lease", namespaced: true},
		{gvr: schema.GroupVersionResource{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses"}, kind: "PriorityClass", short: []string{"pc"}},
		{gvr: schema.GroupVersionResource{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses"}, kind: "StorageClass", short: []string{"sc"}},
	} {
		t.Run(tc.gvr.String(), func(t *testing.T) {
			r, ok := reg.Lookup(tc.gvr)
			if !ok {
				t.Fatal("not served")
			}
			if r.Kind != tc.kind || r.Namespaced != tc.namespaced || !slices.Equal(r.ShortNames, tc.short) ||
				!slices.Equal(r.Categories, tc.categories) || !slices.Equal(r.Subresources, tc.subresources) || r.ReadOnly != tc.readOnly {
				t.Errorf("got kind %s namespaced %v short %v categories %v subresources %v read-only %v",
					r.Kind, r.Namespaced, r.ShortNames, r.Categories, r.Subresources, r.ReadOnly)
			}
			if r.Fields != nil {
				r.Fields(r.New()) // selectable fields of an empty object must not panic
			}
		})
	}
	if n := len(reg.Resources()); n != 15 {
		t.Errorf("%d cluster resources, want 15", n)
	}
}
