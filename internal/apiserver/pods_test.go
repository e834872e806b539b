package apiserver

import (
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodGracePeriod(t *testing.T) {
	bound := func(phase corev1.PodPhase, own *int64) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: own}, Status: corev1.PodStatus{Phase: phase}}
	}
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		requested *int64
		want      int64
	}{
		{"the pod's own period", bound(corev1.PodRunning, ptr.To[int64](30)), nil, 30},
		{"the requested period", bound(corev1.PodRunning, ptr.To[int64](30)), ptr.To[int64](5), 5},
		{"a request for none", bound(corev1.PodRunning, ptr.To[int64](30)), ptr.To[int64](0), 0},
		{"no period at all", bound(corev1.PodRunning, nil), nil, 0},
		{"negative counts as a second", bound(corev1.PodRunning, ptr.To[int64](-5)), nil, 1},
		{"unscheduled", &corev1.Pod{Spec: corev1.PodSpec{TerminationGracePeriodSeconds: ptr.To[int64](30)}}, ptr.To[int64](10), 0},
		{"succeeded", bound(corev1.PodSucceeded, ptr.To[int64](30)), nil, 0},
		{"failed", bound(corev1.PodFailed, ptr.To[int64](30)), ptr.To[int64](10), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := podGracePeriod(tc.pod, metav1.DeleteOptions{GracePeriodSeconds: tc.requested}); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

func TestAssignPod(t *testing.T) {
	now := metav1.Now()
	past := metav1.NewTime(time.Now().Add(-time.Hour))
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{"a": "1"}, Labels: map[string]string{"topology.kubernetes.io/zone": "z"}},
		Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
	for _, tc := range []struct {
		name string
		pod  *corev1.Pod
		err  string
	}{
		{name: "a pending pod", pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Status: corev1.PodStatus{NominatedNodeName: "n1",
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", LastTransitionTime: past}}}}},
		{name: "already bound", pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{NodeName: "n2"}},
			err: `pod web is already assigned to node "n2"`},
		{name: "being deleted", pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", DeletionTimestamp: &now}},
			err: "pod web is being deleted, cannot be assigned to a host"},
		{name: "gated", pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: corev1.PodSpec{SchedulingGates: []corev1.PodSchedulingGate{{Name: "g"}}}},
			err: "pod web has non-empty .spec.schedulingGates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := assignPod(tc.pod, binding)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := tc.pod
			if p.Spec.NodeName != "n1" || p.Annotations["a"] != "1" || p.Labels["topology.kubernetes.io/zone"] != "z" || p.Status.NominatedNodeName != "" {
				t.Errorf("pod after binding: %+v", p)
			}
			c := p.Status.Conditions
			if len(c) != 1 || c[0].Type != corev1.PodScheduled || c[0].Status != corev1.ConditionTrue || c[0].Reason != "" ||
				c[0].LastTransitionTime.Equal(&past) {
				t.Errorf("conditions %+v", c)
			}
		})
	}
}

func TestUpdatePodCondition(t *testing.T) {
	past := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	ready := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: past}
	for _, tc := range []struct {
		name        string
		have        []corev1.PodCondition
		set         corev1.PodCondition
		changed     bool
		keepsTime   bool
		wantEntries int
	}{
		{"added", nil, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}, true, false, 1},
		{"unchanged keeps its time", []corev1.PodCondition{ready}, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}, false, true, 1},
		{"new message keeps its time", []corev1.PodCondition{ready}, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue, Message: "m"}, true, true, 1},
		{"transition moves the time", []corev1.PodCondition{ready}, corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse}, true, false, 1},
		{"another type is added", []corev1.PodCondition{ready}, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}, true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := corev1.PodStatus{Conditions: append([]corev1.PodCondition{}, tc.have...)}
			if got := updatePodCondition(&st, tc.set); got != tc.changed {
				t.Errorf("changed %v, want %v", got, tc.changed)
			}
			if len(st.Conditions) != tc.wantEntries {
				t.Fatalf("conditions %+v", st.Conditions)
			}
			c := st.Conditions[len(st.Conditions)-1]
			if c.LastTransitionTime.Equal(&past) != tc.keepsTime {
				t.Errorf("transition time %v, kept: want %v", c.LastTransitionTime, tc.keepsTime)
			}
		})
	}
}

func TestEvictionDeleteOptions(t *testing.T) {
	orphan := metav1.DeletePropagationOrphan
	bad := metav1.DeletionPropagation("Sometimes")
	for _, tc := range []struct {
		name    string
		opts    *metav1.DeleteOptions
		dry     bool
		wantDry bool
		err     string
	}{
		{name: "none"},
		{name: "the request's dry run", dry: true, wantDry: true},
		{name: "the eviction's dry run", opts: &metav1.DeleteOptions{DryRun: []string{"All"}}, wantDry: true},
		{name: "both agree", opts: &metav1.DeleteOptions{DryRun: []string{"All"}}, dry: true, wantDry: true},
		{name: "an unknown dry run", opts: &metav1.DeleteOptions{DryRun: []string{"Some"}}, err: `dryRun: unsupported value "Some"`},
		{name: "a policy", opts: &metav1.DeleteOptions{PropagationPolicy: &orphan}},
		{name: "a bad policy", opts: &metav1.DeleteOptions{PropagationPolicy: &bad}, err: `propagationPolicy: unsupported value "Sometimes"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := evictionDeleteOptions(tc.opts, tc.dry)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (len(got.DryRun) > 0) != tc.wantDry {
				t.Errorf("dry run %v, want %v", got.DryRun, tc.wantDry)
			}
		})
	}
}

func TestValidateTokenRequest(t *testing.T) {
	for _, tc := range []struct {
		secs int64
		err  string
	}{
		{3600, ""},
		{600, ""},
		{599, "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes"},
		{1<<32 + 1, "spec.expirationSeconds: Invalid value: 4294967297: may not specify a duration larger than 2^32 seconds"},
	} {
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(tc.secs)}}
		errs := validateTokenRequest(tr)
		if got := errs.ToAggregate(); (got == nil) != (tc.err == "") || (got != nil && got.Error() != tc.err) {
			t.Errorf("%d seconds: got %v, want %q", tc.secs, got, tc.err)
		}
	}
}

func TestValidateBinding(t *testing.T) {
	for _, tc := range []struct {
		target corev1.ObjectReference
		err    string
	}{
		{corev1.ObjectReference{Kind: "Node", Name: "n1"}, ""},
		{corev1.ObjectReference{Name: "n1"}, ""},
		{corev1.ObjectReference{Kind: "Pod", Name: "n1"}, `target.kind: Unsupported value: "Pod": supported values: "Node", "<empty>"`},
		{corev1.ObjectReference{Kind: "Node"}, "target.name: Required value"},
	} {
		errs := validateBinding(&corev1.Binding{Target: tc.target})
		if got := errs.ToAggregate(); (got == nil) != (tc.err == "") || (got != nil && got.Error() != tc.err) {
			t.Errorf("%+v: got %v, want %q", tc.target, got, tc.err)
		}
	}
}
