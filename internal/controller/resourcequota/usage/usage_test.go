package usage

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func list(kv ...string) corev1.ResourceList {
	l := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func TestOf(t *testing.T) {
	deleted := metav1.NewTime(now.Add(-time.Minute))
	for _, tc := range []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want corev1.ResourceList
	}{
		{"pod sums containers, init containers at most", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{
				InitContainers: []corev1.Container{container("init", list("cpu", "2"), nil)},
				Containers: []corev1.Container{container("a", list("cpu", "500m", "memory", "1Gi"), list("cpu", "1")),
					container("b", list("cpu", "500m", "memory", "1Gi"), list("memory", "2Gi"))}}},
			list("count/pods", "1", "pods", "1", "cpu", "2", "requests.cpu", "2", "memory", "2Gi", "requests.memory", "2Gi",
				"limits.cpu", "1", "limits.memory", "2Gi")},
		{"finished pod counts only as an object", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", list("cpu", "1"), nil)}},
				Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
			list("count/pods", "1")},
		{"pod past its grace period", schema.GroupResource{Resource: "pods"},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &deleted, DeletionGracePeriodSeconds: ptr.To[int64](30)}},
			list("count/pods", "1")},
		{"node port service", schema.GroupResource{Resource: "services"},
			&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}},
			list("count/services", "1", "services", "1", "services.nodeports", "2", "services.loadbalancers", "0")},
		{"load balancer", schema.GroupResource{Resource: "services"},
			&corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}}},
			list("count/services", "1", "services", "1", "services.nodeports", "1", "services.loadbalancers", "1")},
		{"claim of a class", schema.GroupResource{Resource: "persistentvolumeclaims"},
			&corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast"),
				Resources: corev1.VolumeResourceRequirements{Requests: list("storage", "5Gi")}}},
			list("count/persistentvolumeclaims", "1", "persistentvolumeclaims", "1", "requests.storage", "5Gi",
				"fast.storageclass.storage.k8s.io/persistentvolumeclaims", "1", "fast.storageclass.storage.k8s.io/requests.storage", "5Gi")},
		{"config map", schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}, list("count/configmaps", "1", "configmaps", "1")},
		{"deployment", schema.GroupResource{Group: "apps", Resource: "deployments"}, &corev1.ConfigMap{}, list("count/deployments.apps", "1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.gr, tc.obj, now); !Equal(got, tc.want) {
				t.Errorf("got %s\nwant %s", String(got), String(tc.want))
			}
		})
	}
}

func TestScopesAndConstraints(t *testing.T) {
	bestEffort := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", nil, nil)}}}
	burstable := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "high", ActiveDeadlineSeconds: ptr.To[int64](60),
		Containers: []corev1.Container{container("a", list("cpu", "1"), nil), container("b", list("cpu", "1"), list("cpu", "1"))}}}
	quota := func(hard corev1.ResourceList, scopes []corev1.ResourceQuotaScope, exprs ...corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
		q := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: hard, Scopes: scopes}, Status: corev1.ResourceQuotaStatus{Hard: hard}}
		if len(exprs) > 0 {
			q.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: exprs}
		}
		return q
	}
	pods := schema.GroupResource{Resource: "pods"}
	for _, tc := range []struct {
		name string
		q    *corev1.ResourceQuota
		gr   schema.GroupResource
		obj  runtime.Object
		want bool
	}{
		{"best effort", quota(list("pods", "1"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}), pods, bestEffort, true},
		{"not best effort", quota(list("pods", "1"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}), pods, burstable, false},
		{"terminating", quota(list("pods", "1"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating}), pods, burstable, true},
		{"priority class in", quota(list("pods", "1"), nil, corev1.ScopedResourceSelectorRequirement{
			ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}), pods, burstable, true},
		{"priority class not in", quota(list("pods", "1"), nil, corev1.ScopedResourceSelectorRequirement{
			ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpNotIn, Values: []string{"high"}}), pods, burstable, false},
		{"scoped quota charges no config map", quota(list("count/configmaps", "1"), []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}),
			schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}, false},
		{"untracked resource", quota(list("secrets", "1"), nil), schema.GroupResource{Resource: "configmaps"}, &corev1.ConfigMap{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Matches(tc.q, tc.gr, tc.obj); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}

	err := Constraints([]corev1.ResourceName{"limits.cpu", "limits.memory", "pods", "requests.cpu"}, burstable)
	if want := "must specify limits.cpu for: a; limits.memory for: a,b"; err == nil || err.Error() != want {
		t.Errorf("constraints: %v, want %s", err, want)
	}
	if err := Constraints([]corev1.ResourceName{"requests.cpu", "pods"}, burstable); err != nil {
		t.Errorf("constraints met: %v", err)
	}
}
