package garbagecollector

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
)

// mapperHolder is the REST mapper of the last discovery.
type mapperHolder struct {
	mu sync.RWMutex
	m  meta.RESTMapper
}

func (h *mapperHolder) get() meta.RESTMapper {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.m
}

func (h *mapperHolder) set(m meta.RESTMapper) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.m = m
}

// mapping finds the resource and scope of apiVersion/kind.
func (gc *GarbageCollector) mapping(apiVersion, kind string) (*meta.RESTMapping, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("apiVersion %q: %w", apiVersion, err)
	}
	m := gc.mapper.get()
	if m == nil {
		return nil, fmt.Errorf("no discovery yet for %s %s", apiVersion, kind)
	}
	return m.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
}

// discover refreshes the REST mapper and starts monitors for resources not
// yet watched: the preferred version of every resource that can be listed,
// watched and deleted.
func (gc *GarbageCollector) discover(ctx context.Context) error {
	groups, err := restmapper.GetAPIGroupResources(gc.cfg.Discovery)
	if err != nil && len(groups) == 0 {
		return fmt.Errorf("discovery: %w", err)
	}
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discovery: %w", err)
	}
	gc.mapper.set(restmapper.NewDiscoveryRESTMapper(groups))
	added := 0
	for gvr, kind := range deletableResources(groups) {
		if slices.Contains(gc.cfg.IgnoredResources, gvr.GroupResource()) {
			continue
		}
		if gc.startMonitor(gvr, kind) {
			added++
		}
	}
	if added > 0 {
		gc.factory.Start(ctx.Done())
		gc.log.Info("watching resources", "added", added)
	}
	return nil
}

// deletableResources mirrors ServerPreferredResources filtered by the
// verbs list, watch and delete: one version per group and resource, the
// group's preferred version first.
func deletableResources(groups []*restmapper.APIGroupResources) map[schema.GroupVersionResource]string {
	out := map[schema.GroupVersionResource]string{}
	for _, g := range groups {
		seen := map[string]bool{}
		versions := []string{g.Group.PreferredVersion.Version}
		for _, v := range g.Group.Versions {
			versions = append(versions, v.Version)
		}
		for _, v := range versions {
			for _, r := range g.VersionedResources[v] {
				if strings.Contains(r.Name, "/") || seen[r.Name] || !hasVerbs(r, "list", "watch", "delete") {
					continue
				}
				seen[r.Name] = true
				out[schema.GroupVersionResource{Group: g.Group.Name, Version: v, Resource: r.Name}] = r.Kind
			}
		}
	}
	return out
}

func hasVerbs(r metav1.APIResource, verbs ...string) bool {
	for _, v := range verbs {
		if !slices.Contains(r.Verbs, v) {
			return false
		}
	}
	return true
}

// startMonitor makes the informer for one resource; it reports whether it
// is new.
func (gc *GarbageCollector) startMonitor(gvr schema.GroupVersionResource, kind string) bool {
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if _, ok := gc.monitors[gvr]; ok {
		return false
	}
	inf := gc.factory.ForResource(gvr).Informer()
	// The informer keeps only what the collector reads: a pod's labels,
	// annotations and managed fields would otherwise be held twice.
	if err := inf.SetTransform(trimMetadata); err != nil {
		gc.log.Warn("cannot trim cached metadata", "resource", gvr.String(), "err", err)
	}
	apiVersion := gvr.GroupVersion().String()
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { gc.observe(obj, apiVersion, kind) },
		UpdateFunc: func(_, obj any) { gc.observe(obj, apiVersion, kind) },
		DeleteFunc: func(obj any) { gc.observeDeleted(obj) },
	})
	if err != nil {
		gc.log.Warn("cannot watch resource", "resource", gvr.String(), "err", err)
		return false
	}
	gc.monitors[gvr] = reg.HasSynced
	return true
}

// trimMetadata keeps the identity, owners, finalizers and deletion
// timestamp of an object.
func trimMetadata(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{
		TypeMeta: m.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.Name,
			Namespace:         m.Namespace,
			UID:               m.UID,
			ResourceVersion:   m.ResourceVersion,
			OwnerReferences:   m.OwnerReferences,
			Finalizers:        m.Finalizers,
			DeletionTimestamp: m.DeletionTimestamp,
		},
	}, nil
}
