package registry

import (
	"reflect"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestResourceQuotas(t *testing.T) {
	r := ResourceQuotas()
	q := &corev1.ResourceQuota{ObjectMeta: testMeta("compute", "default"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		corev1.ResourcePods: resource.MustParse("10"), corev1.ResourceRequestsCPU: resource.MustParse("2"), corev1.ResourceLimitsMemory: resource.MustParse("4Gi")}}}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: q},
		{name: "unknown resource, fractional pods", obj: &corev1.ResourceQuota{ObjectMeta: testMeta("q", "default"), Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{"gpus": resource.MustParse("1")}}},
			want: []string{"FieldValueInvalid spec.hard[gpus]", "FieldValueInvalid spec.hard[gpus]"}},
		{name: "scope does not fit", obj: &corev1.ResourceQuota{ObjectMeta: testMeta("q", "default"), Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("1")}, Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}}},
			want: []string{"FieldValueInvalid spec.scopes"}},
		{name: "scopes are immutable", obj: &corev1.ResourceQuota{ObjectMeta: testMeta("compute", "default"), Spec: corev1.ResourceQuotaSpec{
			Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10")}, Scopes: []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}}},
			old: q, want: []string{"FieldValueInvalid spec.scopes"}},
	})
	q.Status.Hard = q.Spec.Hard
	q.Status.Used = corev1.ResourceList{corev1.ResourcePods: resource.MustParse("3"), corev1.ResourceRequestsCPU: resource.MustParse("500m")}
	want := []any{"compute", "pods: 3/10, requests.cpu: 500m/2", "limits.memory: 0/4Gi", "<unknown>"}
	if got := r.Cells(q); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v", got)
	}
}

func TestLimitRanges(t *testing.T) {
	r := LimitRanges()
	lr := &corev1.LimitRange{ObjectMeta: testMeta("limits", "default"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
		Min: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}}}
	r.Default(lr)
	item := lr.Spec.Limits[0]
	if item.Default.Cpu().String() != "2" || item.DefaultRequest.Cpu().String() != "2" || item.DefaultRequest.Memory().String() != "64Mi" {
		t.Errorf("defaults: %+v", item)
	}
	runValidation(t, r, []validationCase{
		{name: "valid", obj: lr},
		{name: "min above max, pod defaults, duplicate type", obj: &corev1.LimitRange{ObjectMeta: testMeta("l", "default"), Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{Type: corev1.LimitTypePod, Min: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
				Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}},
			{Type: corev1.LimitTypePod}, {Type: "Volume"}}}},
			want: []string{"FieldValueForbidden spec.limits[0].default", "FieldValueInvalid spec.limits[0].min[cpu]",
				"FieldValueDuplicate spec.limits[1].type", "FieldValueInvalid spec.limits[2].type"}},
	})
	if r.Cells != nil {
		t.Errorf("limit ranges have no printer upstream")
	}
}

func TestPriorityClasses(t *testing.T) {
	r := PriorityClasses()
	pc := &schedulingv1.PriorityClass{ObjectMeta: testMeta("high", ""), Value: 1000}
	r.Default(pc)
	if pc.PreemptionPolicy == nil || *pc.PreemptionPolicy != corev1.PreemptLowerPriority {
		t.Errorf("preemption policy %v", pc.PreemptionPolicy)
	}
	never := corev1.PreemptNever
	runValidation(t, r, []validationCase{
		{name: "valid", obj: pc},
		{name: "system classes as upstream creates them", obj: SystemPriorityClasses()[0]},
		{name: "reserved prefix", obj: &schedulingv1.PriorityClass{ObjectMeta: testMeta("system-mine", ""), Value: 1}, want: []string{"FieldValueForbidden metadata.name"}},
		{name: "too high", obj: &schedulingv1.PriorityClass{ObjectMeta: testMeta("top", ""), Value: HighestUserPriority + 1}, want: []string{"FieldValueForbidden value"}},
		{name: "value and policy fixed", obj: &schedulingv1.PriorityClass{ObjectMeta: testMeta("high", ""), Value: 2000, PreemptionPolicy: &never}, old: pc,
			want: []string{"FieldValueForbidden value", "FieldValueInvalid preemptionPolicy"}},
	})
	if got := r.Cells(pc); !reflect.DeepEqual(got, []any{"high", int64(1000), false, "<unknown>", "PreemptLowerPriority"}) {
		t.Errorf("cells %#v", got)
	}
}

func TestLeasesEndpointsAndAccounts(t *testing.T) {
	zero, holder := int32(0), "node-1"
	runValidation(t, Leases(), []validationCase{
		{name: "valid", obj: &coordinationv1.Lease{ObjectMeta: testMeta("node-1", "kube-node-lease"), Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}},
		{name: "zero duration", obj: &coordinationv1.Lease{ObjectMeta: testMeta("l", "default"), Spec: coordinationv1.LeaseSpec{LeaseDurationSeconds: &zero}},
			want: []string{"FieldValueInvalid spec.leaseDurationSeconds"}},
	})
	if got := Leases().Cells(&coordinationv1.Lease{ObjectMeta: testMeta("node-1", "kube-node-lease"), Spec: coordinationv1.LeaseSpec{HolderIdentity: &holder}}); got[1] != "node-1" {
		t.Errorf("lease cells %v", got)
	}

	ep := &corev1.Endpoints{ObjectMeta: testMeta("web", "default"), Subsets: []corev1.EndpointSubset{{
		Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}, {IP: "10.42.0.6"}}, Ports: []corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "https", Port: 8443}}}}}
	runValidation(t, Endpoints(), []validationCase{
		{name: "valid", obj: ep},
		{name: "empty subset, loopback, unnamed ports", obj: &corev1.Endpoints{ObjectMeta: testMeta("web", "default"), Subsets: []corev1.EndpointSubset{
			{}, {Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80}, {Port: 81}}}}},
			want: []string{"FieldValueRequired subsets[0]", "FieldValueInvalid subsets[1].addresses[0].ip", "FieldValueRequired subsets[1].ports[0].name", "FieldValueRequired subsets[1].ports[1].name"}},
	})
	if got := Endpoints().Cells(ep)[1]; got != "10.42.0.5:8080,10.42.0.6:8080,10.42.0.5:8443 + 1 more..." {
		t.Errorf("endpoints cell %q", got)
	}

	port := int32(8080)
	slice := &discoveryv1.EndpointSlice{ObjectMeta: testMeta("web-abc", "default"), AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"}}}, Ports: []discoveryv1.EndpointPort{{Port: &port}}}
	EndpointSlices().Default(slice)
	if *slice.Ports[0].Protocol != corev1.ProtocolTCP || slice.Ports[0].Name == nil {
		t.Errorf("slice port defaults %+v", slice.Ports[0])
	}
	runValidation(t, EndpointSlices(), []validationCase{
		{name: "valid", obj: slice},
		{name: "IPv6 address in an IPv4 slice", obj: &discoveryv1.EndpointSlice{ObjectMeta: testMeta("s", "default"), AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"fd00::1"}}, {}}},
			want: []string{"FieldValueInvalid endpoints[0].addresses[0]", "FieldValueRequired endpoints[1].addresses"}},
		{name: "address type fixed", obj: &discoveryv1.EndpointSlice{ObjectMeta: testMeta("web-abc", "default"), AddressType: discoveryv1.AddressTypeFQDN},
			old: slice, want: []string{"FieldValueInvalid addressType"}},
	})
	if got := EndpointSlices().Cells(slice); !reflect.DeepEqual(got[1:4], []any{"IPv4", "8080", "10.42.0.5"}) {
		t.Errorf("slice cells %v", got)
	}
	moved := slice.DeepCopy()
	moved.Endpoints[0].Addresses[0] = "10.42.0.7"
	relabeled := slice.DeepCopy()
	relabeled.Labels = map[string]string{"a": "b"}
	if !EndpointSlices().SpecChanged(moved, slice) || EndpointSlices().SpecChanged(relabeled, slice) {
		t.Errorf("generation: any change but metadata counts")
	}

	sa := &corev1.ServiceAccount{ObjectMeta: testMeta("builder", "default"), Secrets: []corev1.ObjectReference{{Name: "tok", Namespace: "default", Kind: "Secret"}}}
	ServiceAccounts().PrepareForCreate(sa)
	if !reflect.DeepEqual(sa.Secrets, []corev1.ObjectReference{{Name: "tok"}}) {
		t.Errorf("secret references %v", sa.Secrets)
	}
	if got := ServiceAccounts().Cells(sa); got[1] != int64(1) {
		t.Errorf("sa cells %v", got)
	}
}
