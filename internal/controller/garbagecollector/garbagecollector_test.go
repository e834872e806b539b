package garbagecollector

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	fakediscovery "k8s.io/client-go/discovery/fake"
	metadatafake "k8s.io/client-go/metadata/fake"
	clienttesting "k8s.io/client-go/testing"
)

var (
	podsGVR = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	rsGVR   = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
)

var verbs = metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}

func fakeDiscovery() *fakediscovery.FakeDiscovery {
	return &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: verbs},
			{Name: "pods/status", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get", "patch"}},
			{Name: "nodes", Namespaced: false, Kind: "Node", Verbs: verbs},
			{Name: "events", Namespaced: true, Kind: "Event", Verbs: verbs},
		}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
			{Name: "replicasets", Namespaced: true, Kind: "ReplicaSet", Verbs: verbs},
			{Name: "deployments", Namespaced: true, Kind: "Deployment", Verbs: verbs},
		}},
	}}}
}

type objOpt func(*metav1.PartialObjectMetadata)

func ownedBy(kind, name, uid string, block bool) objOpt {
	return func(m *metav1.PartialObjectMetadata) {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{
			APIVersion: "apps/v1", Kind: kind, Name: name, UID: types.UID(uid),
			Controller: &block, BlockOwnerDeletion: &block,
		})
	}
}

func deleting(finalizer string) objOpt {
	return func(m *metav1.PartialObjectMetadata) {
		now := metav1.Now()
		m.DeletionTimestamp = &now
		m.Finalizers = append(m.Finalizers, finalizer)
	}
}

func pod(name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	return object("v1", "Pod", name, opts...)
}

func replicaSet(name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	return object("apps/v1", "ReplicaSet", name, opts...)
}

func object(apiVersion, kind, name string, opts ...objOpt) *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{
		TypeMeta:   metav1.TypeMeta{APIVersion: apiVersion, Kind: kind},
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name + "-uid")},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

func startGC(t *testing.T, objs ...runtime.Object) *metadatafake.FakeMetadataClient {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	gc, err := New(Config{Metadata: client, Discovery: fakeDiscovery(), Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- gc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return client
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(client *metadatafake.FakeMetadataClient, gvr schema.GroupVersionResource, name string) *metav1.PartialObjectMetadata {
	obj, err := client.Resource(gvr).Namespace("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return obj
}

// deletePolicy returns the propagation policy the collector deleted name
// with ("" when it did not).
func deletePolicy(client *metadatafake.FakeMetadataClient, resource, name string) metav1.DeletionPropagation {
	for _, a := range client.Actions() {
		d, ok := a.(clienttesting.DeleteActionImpl)
		if ok && d.Resource.Resource == resource && d.Name == name && d.DeleteOptions.PropagationPolicy != nil {
			return *d.DeleteOptions.PropagationPolicy
		}
	}
	return ""
}

func TestBackground(t *testing.T) {
	client := startGC(t,
		replicaSet("alive"),
		pod("orphan", ownedBy("ReplicaSet", "gone", "gone-uid", true)),
		pod("half", ownedBy("ReplicaSet", "gone", "gone-uid", true), ownedBy("ReplicaSet", "alive", "alive-uid", false)),
		pod("kept", ownedBy("ReplicaSet", "alive", "alive-uid", true)),
		// Same name as a live owner, other UID: the owner is gone.
		pod("stale", ownedBy("ReplicaSet", "alive", "old-uid", true)),
	)
	waitFor(t, "pod orphan deleted", func() bool { return get(client, podsGVR, "orphan") == nil })
	waitFor(t, "pod stale deleted", func() bool { return get(client, podsGVR, "stale") == nil })
	if p := deletePolicy(client, "pods", "orphan"); p != metav1.DeletePropagationBackground {
		t.Errorf("orphan deleted with policy %q, want Background", p)
	}
	waitFor(t, "pod half to lose its dangling reference", func() bool {
		p := get(client, podsGVR, "half")
		return p != nil && len(p.OwnerReferences) == 1 && p.OwnerReferences[0].UID == "alive-uid"
	})
	if get(client, podsGVR, "kept") == nil {
		t.Error("pod kept, whose owner is alive, was deleted")
	}
}

func TestOwnerDeletedLater(t *testing.T) {
	client := startGC(t, replicaSet("rs"), pod("p", ownedBy("ReplicaSet", "rs", "rs-uid", true)))
	if err := client.Resource(rsGVR).Namespace("default").Delete(context.Background(), "rs", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pod p deleted after its owner", func() bool { return get(client, podsGVR, "p") == nil })
}

func TestForeground(t *testing.T) {
	client := startGC(t,
		replicaSet("rs", deleting(metav1.FinalizerDeleteDependents)),
		pod("a", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("b", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
	)
	waitFor(t, "rs to lose the foregroundDeletion finalizer", func() bool {
		rs := get(client, rsGVR, "rs")
		return rs == nil || len(rs.Finalizers) == 0
	})
	for _, name := range []string{"a", "b"} {
		if get(client, podsGVR, name) != nil {
			t.Errorf("pod %s still exists after its owner's foreground deletion finished", name)
		}
		if p := deletePolicy(client, "pods", name); p != metav1.DeletePropagationBackground {
			t.Errorf("pod %s deleted with policy %q, want Background", name, p)
		}
	}
}

func TestForegroundDependentWithDependents(t *testing.T) {
	// A dependent that has dependents of its own is deleted in the
	// foreground too, so that the chain is deleted bottom-up.
	client := startGC(t,
		object("apps/v1", "Deployment", "d", deleting(metav1.FinalizerDeleteDependents)),
		replicaSet("rs", func(m *metav1.PartialObjectMetadata) {
			ownedBy("Deployment", "d", "d-uid", true)(m)
		}),
		pod("p", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
	)
	waitFor(t, "rs deleted", func() bool { return deletePolicy(client, "replicasets", "rs") != "" })
	if p := deletePolicy(client, "replicasets", "rs"); p != metav1.DeletePropagationForeground {
		t.Errorf("rs deleted with policy %q, want Foreground", p)
	}
}

func TestForegroundWaitsForBlockingDependents(t *testing.T) {
	// A dependent held by its own finalizer keeps blocking its owner.
	// Driven by hand: no workers, one decision at a time.
	gc, client := syncedGC(t,
		replicaSet("rs", deleting(metav1.FinalizerDeleteDependents)),
		pod("held", ownedBy("ReplicaSet", "rs", "rs-uid", true), deleting("example.com/hold")),
		pod("free", ownedBy("ReplicaSet", "rs", "rs-uid", false)),
	)
	ctx := context.Background()
	rsNode := gc.nodeOf("rs-uid")
	if err := gc.attemptToDeleteItem(ctx, rsNode); err != nil {
		t.Fatal(err)
	}
	if rs := get(client, rsGVR, "rs"); rs == nil || len(rs.Finalizers) != 1 {
		t.Fatalf("rs = %v, want its foregroundDeletion finalizer kept while pod held blocks", rs)
	}
	if err := client.Resource(podsGVR).Namespace("default").Delete(ctx, "held", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "graph to drop pod held", func() bool { return gc.nodeOf("held-uid") == nil })
	// pod free does not block (blockOwnerDeletion=false).
	if err := gc.attemptToDeleteItem(ctx, rsNode); err != nil {
		t.Fatal(err)
	}
	if rs := get(client, rsGVR, "rs"); rs == nil || len(rs.Finalizers) != 0 {
		t.Fatalf("rs = %v, want its finalizer removed once nothing blocks", rs)
	}
}

func TestOrphan(t *testing.T) {
	client := startGC(t,
		replicaSet("rs", deleting(metav1.FinalizerOrphanDependents)),
		replicaSet("other"),
		pod("a", ownedBy("ReplicaSet", "rs", "rs-uid", true)),
		pod("b", ownedBy("ReplicaSet", "rs", "rs-uid", true), ownedBy("ReplicaSet", "other", "other-uid", false)),
	)
	waitFor(t, "rs to lose the orphan finalizer", func() bool {
		rs := get(client, rsGVR, "rs")
		return rs == nil || len(rs.Finalizers) == 0
	})
	a, b := get(client, podsGVR, "a"), get(client, podsGVR, "b")
	if a == nil || len(a.OwnerReferences) != 0 {
		t.Errorf("pod a = %v, want it kept without owner references", a)
	}
	if b == nil || len(b.OwnerReferences) != 1 || b.OwnerReferences[0].UID != "other-uid" {
		t.Errorf("pod b = %v, want it kept with only its reference to other", b)
	}
}

func TestTrimMetadata(t *testing.T) {
	in := pod("p", ownedBy("ReplicaSet", "rs", "rs-uid", true))
	in.Labels = map[string]string{"app": "x"}
	in.Annotations = map[string]string{"big": "value"}
	in.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	out, err := trimMetadata(in)
	if err != nil {
		t.Fatal(err)
	}
	m := out.(*metav1.PartialObjectMetadata)
	if m.Labels != nil || m.Annotations != nil || m.ManagedFields != nil {
		t.Errorf("trimmed object keeps %v %v %v", m.Labels, m.Annotations, m.ManagedFields)
	}
	if m.UID != in.UID || len(m.OwnerReferences) != 1 || m.Name != "p" || m.Namespace != "default" {
		t.Errorf("trimmed object lost its identity or owners: %+v", m)
	}
}

// syncedGC builds a collector with a synced graph and no workers.
func syncedGC(t *testing.T, objs ...runtime.Object) (*GarbageCollector, *metadatafake.FakeMetadataClient) {
	t.Helper()
	scheme := metadatafake.NewTestScheme()
	if err := metav1.AddMetaToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	client := metadatafake.NewSimpleMetadataClient(scheme, objs...)
	gc, err := New(Config{Metadata: client, Discovery: fakeDiscovery()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		gc.factory.Shutdown()
	})
	if err := gc.discover(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "graph sync", func() bool {
		for _, s := range gc.synced() {
			if !s() {
				return false
			}
		}
		return true
	})
	return gc, client
}

func (gc *GarbageCollector) nodeOf(uid types.UID) *node {
	gc.graph.mu.Lock()
	defer gc.graph.mu.Unlock()
	return gc.graph.nodes[uid]
}

func TestDiscoverWatchesDeletableResources(t *testing.T) {
	gc, _ := syncedGC(t)
	gc.mu.Lock()
	defer gc.mu.Unlock()
	for _, gvr := range []schema.GroupVersionResource{podsGVR, rsGVR, {Version: "v1", Resource: "nodes"}} {
		if _, ok := gc.monitors[gvr]; !ok {
			t.Errorf("%v is not watched", gvr)
		}
	}
	if len(gc.monitors) != 4 {
		t.Errorf("watching %d resources, want 4 (events ignored, subresources skipped)", len(gc.monitors))
	}
}
