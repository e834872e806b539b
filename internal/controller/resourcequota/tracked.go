package resourcequota

import (
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// tracked is a resource whose objects the controller can count: its
// informer and how to list one namespace's objects from its cache.
type tracked struct {
	gr       schema.GroupResource
	informer cache.SharedIndexInformer
	list     func(namespace string) ([]runtime.Object, error)
}

// trackedResources are the resources quotas can count: those with quota
// names of their own and the workloads users commonly cap with
// count/<resource>.<group>. Only resources mini serves may be here: the
// cache of another would never sync.
func trackedResources(f informers.SharedInformerFactory) []tracked {
	core, apps, batch := f.Core().V1(), f.Apps().V1(), f.Batch().V1()
	return []tracked{
		{schema.GroupResource{Resource: "pods"}, core.Pods().Informer(), lister(core.Pods().Informer())},
		{schema.GroupResource{Resource: "services"}, core.Services().Informer(), lister(core.Services().Informer())},
		{schema.GroupResource{Resource: "configmaps"}, core.ConfigMaps().Informer(), lister(core.ConfigMaps().Informer())},
		{schema.GroupResource{Resource: "secrets"}, core.Secrets().Informer(), lister(core.Secrets().Informer())},
		{schema.GroupResource{Resource: "persistentvolumeclaims"}, core.PersistentVolumeClaims().Informer(), lister(core.PersistentVolumeClaims().Informer())},
		{schema.GroupResource{Resource: "resourcequotas"}, core.ResourceQuotas().Informer(), lister(core.ResourceQuotas().Informer())},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, apps.Deployments().Informer(), lister(apps.Deployments().Informer())},
		{schema.GroupResource{Group: "apps", Resource: "replicasets"}, apps.ReplicaSets().Informer(), lister(apps.ReplicaSets().Informer())},
		{schema.GroupResource{Group: "apps", Resource: "statefulsets"}, apps.StatefulSets().Informer(), lister(apps.StatefulSets().Informer())},
		{schema.GroupResource{Group: "apps", Resource: "daemonsets"}, apps.DaemonSets().Informer(), lister(apps.DaemonSets().Informer())},
		{schema.GroupResource{Group: "batch", Resource: "jobs"}, batch.Jobs().Informer(), lister(batch.Jobs().Informer())},
		{schema.GroupResource{Group: "batch", Resource: "cronjobs"}, batch.CronJobs().Informer(), lister(batch.CronJobs().Informer())},
	}
}

// lister lists one namespace's objects from an informer's cache.
func lister(inf cache.SharedIndexInformer) func(string) ([]runtime.Object, error) {
	return func(namespace string) ([]runtime.Object, error) {
		var out []runtime.Object
		err := cache.ListAllByNamespace(inf.GetIndexer(), namespace, labels.Everything(), func(obj any) {
			if o, ok := obj.(runtime.Object); ok {
				out = append(out, o)
			}
		})
		return out, err
	}
}
