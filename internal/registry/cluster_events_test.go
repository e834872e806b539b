package registry

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func coreEvent(mutate ...func(*corev1.Event)) *corev1.Event {
	e := &corev1.Event{ObjectMeta: testMeta("web.17a", "default"), Reason: "Started", Message: "Started container web",
		Type: corev1.EventTypeNormal, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}}
	for _, m := range mutate {
		m(e)
	}
	return e
}

// eventTestTime is when the test events happened: long enough ago that
// their age reads the same ("90m") however late a test looks at it.
var eventTestTime = time.Now().Add(-90 * time.Minute).Truncate(time.Second)

func newEvent(mutate ...func(*eventsv1.Event)) *eventsv1.Event {
	e := &eventsv1.Event{ObjectMeta: testMeta("web.17b", "default"), EventTime: metav1.NewMicroTime(eventTestTime),
		ReportingController: "mini.dev/scheduler", ReportingInstance: "server-1", Action: "Binding", Reason: "Scheduled",
		Note: "Successfully assigned default/web to node-1", Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}}
	for _, m := range mutate {
		m(e)
	}
	return e
}

func TestEventValidation(t *testing.T) {
	runValidation(t, Events(), []validationCase{
		{name: "legacy event", obj: coreEvent()},
		{name: "namespace mismatch", obj: coreEvent(func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }),
			want: []string{"FieldValueInvalid involvedObject.namespace"}},
		{name: "cluster object's event in default", obj: coreEvent(func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "node-1"} })},
		{name: "names are path segments", obj: coreEvent(func(e *corev1.Event) { e.Name = "a/b" }), want: []string{"FieldValueInvalid metadata.name"}},
		{name: "new-style fields required once eventTime is set", obj: coreEvent(func(e *corev1.Event) { e.EventTime = metav1.NewMicroTime(time.Now()) }),
			want: []string{"FieldValueRequired reportingController", "FieldValueInvalid reportingController", "FieldValueInvalid reportingController",
				"FieldValueRequired reportingInstance", "FieldValueRequired action"}},
		{name: "updates are not restricted in v1", obj: coreEvent(func(e *corev1.Event) { e.Count = 5 }), old: coreEvent()},
	})
	runValidation(t, EventsK8sIO(), []validationCase{
		{name: "valid", obj: newEvent()},
		{name: "strict fields", obj: newEvent(func(e *eventsv1.Event) {
			e.EventTime, e.Type, e.DeprecatedCount = metav1.MicroTime{}, "Info", 3
			e.Series = &eventsv1.EventSeries{Count: 1}
		}), want: []string{"FieldValueInvalid series.count", "FieldValueRequired series.lastObservedTime",
			"FieldValueRequired eventTime", "FieldValueInvalid type", "FieldValueInvalid count"}},
		{name: "note is immutable", obj: newEvent(func(e *eventsv1.Event) { e.Note = "changed" }), old: newEvent(),
			want: []string{"FieldValueInvalid message"}},
	})
}

func TestEventViews(t *testing.T) {
	e := newEvent(func(e *eventsv1.Event) {
		e.Series = &eventsv1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(eventTestTime)}
		e.DeprecatedSource = corev1.EventSource{Component: "scheduler"}
	})
	core := EventToCore(e)
	if core.Message != e.Note || core.InvolvedObject != e.Regarding || core.Series.Count != 4 || core.Source.Component != "scheduler" {
		t.Errorf("to core: %+v", core)
	}
	if back := EventFromCore(core); !reflect.DeepEqual(back, e) {
		t.Errorf("round trip:\n%+v\n%+v", back, e)
	}
	cells := EventsK8sIO().Cells(e)
	want := []any{"90m", "Normal", "Scheduled", "pod/web", "", "scheduler, server-1", "Successfully assigned default/web to node-1", "90m", int64(4), "web.17b"}
	if !reflect.DeepEqual(cells, want) {
		t.Errorf("cells %#v\nwant %#v", cells, want)
	}
	f := EventsK8sIO().Fields(e)
	if f["regarding.name"] != "web" || f["reportingController"] != "mini.dev/scheduler" || f["source"] != "scheduler" {
		t.Errorf("events.k8s.io fields %v", f)
	}
	legacy := coreEvent(func(e *corev1.Event) { e.Count = 0; e.FirstTimestamp = metav1.Now() })
	if got := Events().Cells(legacy); got[8] != int64(1) || got[3] != "pod/web" || got[5] != "kubelet, node-1" || got[0] != got[7] {
		t.Errorf("legacy cells %#v", got)
	}
	if f := Events().Fields(legacy); f["involvedObject.name"] != "web" || f["source"] != "kubelet" || f["type"] != "Normal" {
		t.Errorf("core fields %v", f)
	}
}
