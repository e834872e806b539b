package controllertest

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
)

var _ record.EventRecorder = &Recorder{}

func TestNewClientset(t *testing.T) {
	client := NewClientset()
	pods := client.CoreV1().Pods("ns")
	created, err := pods.Create(t.Context(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Name) != len("web-")+5 || created.UID == "" || created.CreationTimestamp.IsZero() || created.ResourceVersion != "1" {
		t.Fatalf("created pod %q uid %q at %v rv %q: want a generated name, a UID, a timestamp and rv 1",
			created.Name, created.UID, created.CreationTimestamp, created.ResourceVersion)
	}
	updated, err := pods.Update(t.Context(), created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if updated.ResourceVersion != "2" {
		t.Errorf("updated rv %q, want 2", updated.ResourceVersion)
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	r.Event(nil, "Normal", "A", "one")
	r.Eventf(nil, "Warning", "B", "two %d", 2)
	r.AnnotatedEventf(nil, map[string]string{"k": "v"}, "Normal", "C", "three")
	want := []string{"Normal A one", "Warning B two 2", "Normal C three"}
	if got := r.List(); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}
