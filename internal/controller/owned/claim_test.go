package owned

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

var rsKind = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "ReplicaSet"}

func pod(name string, lbls map[string]string, owner types.UID, deleting bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("pod-" + name), Labels: lbls}}
	if owner != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "x", UID: owner, Controller: &yes}}
	}
	if deleting {
		now := metav1.Now()
		p.DeletionTimestamp = &now
	}
	return p
}

func TestClaim(t *testing.T) {
	app := map[string]string{"app": "web"}
	other := map[string]string{"app": "db"}
	tests := []struct {
		name      string
		pod       *corev1.Pod
		ctrlGone  bool
		canAdopt  error
		wantOwned bool
		wantPatch string // substring of the patch sent, "" for none
		wantErr   bool
	}{
		{name: "ours and matching is kept", pod: pod("a", app, "rs", false), wantOwned: true},
		{name: "ours not matching is released", pod: pod("b", other, "rs", false), wantPatch: `"$patch":"delete"`},
		{name: "ours not matching but deleting is left", pod: pod("c", other, "rs", true)},
		{name: "orphan matching is adopted", pod: pod("d", app, "", false), wantOwned: true, wantPatch: `"controller":true`},
		{name: "orphan not matching is ignored", pod: pod("e", other, "", false)},
		{name: "orphan deleting is ignored", pod: pod("f", app, "", true)},
		{name: "someone else's is ignored", pod: pod("g", app, "other", false)},
		{name: "no adoption by a controller being deleted", pod: pod("h", app, "", false), ctrlGone: true},
		{name: "adoption refused by recheck", pod: pod("i", app, "", false), canAdopt: errors.New("gone"), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := &metav1.ObjectMeta{Name: "x", Namespace: "ns", UID: "rs"}
			if tt.ctrlGone {
				now := metav1.Now()
				rs.DeletionTimestamp = &now
			}
			var patches []string
			c := &Claimer{Controller: rs, Kind: rsKind, Selector: labels.SelectorFromSet(app),
				Patch: func(_ context.Context, ns, name string, p []byte) error {
					patches = append(patches, string(p))
					return nil
				},
				CanAdopt: func(context.Context) error { return tt.canAdopt },
			}
			got, err := Claim(context.Background(), c, []*corev1.Pod{tt.pod})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if (len(got) == 1) != tt.wantOwned {
				t.Errorf("owned = %d pods, want owned %v", len(got), tt.wantOwned)
			}
			if tt.wantPatch == "" && len(patches) > 0 && !tt.wantErr {
				t.Errorf("unexpected patch %s", patches)
			}
			if tt.wantPatch != "" && (len(patches) != 1 || !strings.Contains(patches[0], tt.wantPatch)) {
				t.Errorf("patches = %s, want one containing %s", patches, tt.wantPatch)
			}
		})
	}
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	e := NewExpectations(clk)
	if !e.Satisfied("k") {
		t.Fatal("unset key must be satisfied")
	}
	e.Expect("k", 2, 1)
	e.CreationObserved("k")
	e.DeletionObserved("k")
	if e.Satisfied("k") {
		t.Fatal("one creation outstanding")
	}
	e.CreationObserved("k")
	if !e.Satisfied("k") {
		t.Fatal("all observed")
	}
	e.Expect("k", 1, 0)
	clk.Step(ExpectationsTTL + time.Second)
	if !e.Satisfied("k") {
		t.Fatal("expired expectations must be satisfied")
	}
}

func TestGenerateNamePrefix(t *testing.T) {
	if got := GenerateNamePrefix("web"); got != "web-" {
		t.Errorf("got %q", got)
	}
	if got := GenerateNamePrefix(strings.Repeat("a", 300)); len(got) != 248 {
		t.Errorf("len = %d, want 248", len(got))
	}
}
