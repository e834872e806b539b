package registry

import (
	"reflect"
	"testing"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestPodDisruptionBudgets(t *testing.T) {
	r := PodDisruptionBudgets()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	pdb := &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("web", "default"),
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2)), Selector: sel}}
	bad := policyv1.UnhealthyPodEvictionPolicyType("Sometimes")
	runValidation(t, r, []validationCase{
		{name: "valid", obj: pdb},
		{name: "neither bound, as upstream allows", obj: &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("p", "default")}},
		{name: "both bounds", obj: &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("p", "default"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
			want: []string{"FieldValueInvalid spec"}},
		{name: "negative, over 100%, bad policy", obj: &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("p", "default"), Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(-1)), UnhealthyPodEvictionPolicy: &bad,
			Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Near"}}}}},
			want: []string{"FieldValueInvalid spec.minAvailable", "FieldValueInvalid spec.selector.matchExpressions[0].operator",
				"FieldValueNotSupported spec.unhealthyPodEvictionPolicy"}},
		{name: "max unavailable over 100%", obj: &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("p", "default"), Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromString("150%"))}},
			want: []string{"FieldValueInvalid spec.maxUnavailable"}},
		{name: "negative status", old: pdb, obj: &policyv1.PodDisruptionBudget{ObjectMeta: testMeta("web", "default"), Spec: pdb.Spec,
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: -1}},
			want: []string{"FieldValueInvalid status.disruptionsAllowed"}},
	})
	changed := pdb.DeepCopy()
	changed.Spec.MinAvailable = ptr.To(intstr.FromString("50%"))
	if !r.SpecChanged(changed, pdb) || r.SpecChanged(pdb.DeepCopy(), pdb) {
		t.Errorf("generation must follow the spec")
	}
	status := pdb.DeepCopy()
	status.Status.DisruptionsAllowed = 3
	r.PrepareForUpdate(status, pdb, "")
	if status.Status.DisruptionsAllowed != 0 {
		t.Errorf("a main-resource write changed the status")
	}
	pdb.Status.DisruptionsAllowed = 1
	want := []any{"web", "2", "N/A", int64(1), "<unknown>"}
	if got := r.Cells(pdb); !reflect.DeepEqual(got, want) {
		t.Errorf("cells %#v, want %#v", got, want)
	}
	if len(r.Columns) != len(want) || r.ShortNames[0] != "pdb" {
		t.Errorf("columns %v short names %v", r.Columns, r.ShortNames)
	}
}
