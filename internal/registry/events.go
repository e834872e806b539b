package registry

// Events are served twice, as upstream does: core/v1 events and
// events.k8s.io/v1 events are two views of the same objects (regarding is
// involvedObject, note is message, deprecatedSource is source, ...).
// Upstream stores one internal Event and converts per request; EventToCore
// and EventFromCore are that conversion, for the server to share one
// store between the two resources. Validation and tables work on the core
// form for both, so field paths and columns match upstream's.

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of the fields of new-style events.
const (
	eventReportingInstanceLimit = 128
	eventActionLimit            = 128
	eventReasonLimit            = 128
	eventNoteLimit              = 1024
)

// Events serves core/v1 events, validated as upstream validates requests
// to that API: only the legacy checks.
func Events() *Resource {
	return &Resource{
		GVR:          corev1.SchemeGroupVersion.WithResource("events"),
		Kind:         "Event",
		SingularName: "event",
		Namespaced:   true,
		ShortNames:   []string{"ev"},
		New:          func() runtime.Object { return &corev1.Event{} },
		NewList:      func() runtime.Object { return &corev1.EventList{} },
		Validate: func(obj runtime.Object) field.ErrorList {
			e := obj.(*corev1.Event)
			if errs := legacyEventErrs(e); len(errs) > 0 {
				return errs
			}
			return eventMetaErrs(e)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			e := obj.(*corev1.Event)
			errs := append(eventMetaErrs(e), validateMetaUpdate(obj, old)...)
			return append(errs, legacyEventErrs(e)...)
		},
		Columns: eventColumns,
		Cells:   func(obj runtime.Object) []any { return eventCells(obj.(*corev1.Event)) },
		Fields:  func(obj runtime.Object) fields.Set { return coreEventFields(obj.(*corev1.Event)) },
	}
}

// EventsK8sIO serves events.k8s.io/v1 events, validated strictly as
// upstream validates requests to that API.
func EventsK8sIO() *Resource {
	return &Resource{
		GVR:          eventsv1.SchemeGroupVersion.WithResource("events"),
		Kind:         "Event",
		SingularName: "event",
		Namespaced:   true,
		ShortNames:   []string{"ev"},
		New:          func() runtime.Object { return &eventsv1.Event{} },
		NewList:      func() runtime.Object { return &eventsv1.EventList{} },
		Storage: &StoredAs{
			GVR:  corev1.SchemeGroupVersion.WithResource("events"),
			New:  func() runtime.Object { return &corev1.Event{} },
			To:   func(obj runtime.Object) runtime.Object { return EventToCore(obj.(*eventsv1.Event)) },
			From: func(obj runtime.Object) runtime.Object { return EventFromCore(obj.(*corev1.Event)) },
		},
		Validate: func(obj runtime.Object) field.ErrorList {
			e := EventToCore(obj.(*eventsv1.Event))
			errs := legacyEventErrs(e)
			errs = append(errs, validateCoreMeta(e, true, apivalidation.NameIsDNSSubdomain)...)
			errs = append(errs, eventSeriesErrs(e)...)
			if e.EventTime.IsZero() {
				errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
			}
			if e.Type != corev1.EventTypeNormal && e.Type != corev1.EventTypeWarning {
				errs = append(errs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", e.Type)))
			}
			for _, f := range []struct {
				name  string
				isSet bool
			}{{"firstTimestamp", !e.FirstTimestamp.IsZero()}, {"lastTimestamp", !e.LastTimestamp.IsZero()},
				{"count", e.Count != 0}, {"source", e.Source.Component != "" || e.Source.Host != ""}} {
				if f.isSet {
					errs = append(errs, field.Invalid(field.NewPath(f.name), "", "needs to be unset"))
				}
			}
			if len(errs) > 0 {
				return errs
			}
			return eventMetaErrs(e)
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			e, prev := EventToCore(obj.(*eventsv1.Event)), EventToCore(old.(*eventsv1.Event))
			errs := append(eventMetaErrs(e), validateMetaUpdate(e, prev)...)
			errs = append(errs, legacyEventErrs(e)...)
			errs = append(errs, validateCoreMetaUpdate(e, prev)...)
			if !sameEventSeries(e.Series, prev.Series) {
				errs = append(errs, eventSeriesErrs(e)...)
			}
			for _, f := range []struct {
				name     string
				new, old any
			}{{"involvedObject", e.InvolvedObject, prev.InvolvedObject}, {"reason", e.Reason, prev.Reason},
				{"message", e.Message, prev.Message}, {"source", e.Source, prev.Source},
				{"firstTimestamp", e.FirstTimestamp, prev.FirstTimestamp}, {"lastTimestamp", e.LastTimestamp, prev.LastTimestamp},
				{"count", e.Count, prev.Count}, {"reason", e.Reason, prev.Reason}, {"type", e.Type, prev.Type},
				{"eventTime", e.EventTime, prev.EventTime}, {"action", e.Action, prev.Action}, {"related", e.Related, prev.Related},
				{"reportingController", e.ReportingController, prev.ReportingController},
				{"reportingInstance", e.ReportingInstance, prev.ReportingInstance}} {
				errs = append(errs, apivalidation.ValidateImmutableField(f.new, f.old, field.NewPath(f.name))...)
			}
			return errs
		},
		Columns: eventColumns,
		Cells:   func(obj runtime.Object) []any { return eventCells(EventToCore(obj.(*eventsv1.Event))) },
		Fields: func(obj runtime.Object) fields.Set {
			core := coreEventFields(EventToCore(obj.(*eventsv1.Event)))
			set := fields.Set{"reason": core["reason"], "reportingController": core["reportingComponent"],
				"source": core["source"], "type": core["type"]}
			for _, f := range []string{"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"} {
				set["regarding."+f] = core["involvedObject."+f]
			}
			return set
		},
	}
}

// EventToCore is an events.k8s.io/v1 event in its core/v1 form.
func EventToCore(in *eventsv1.Event) *corev1.Event {
	e := in.DeepCopy()
	out := &corev1.Event{
		ObjectMeta: e.ObjectMeta, InvolvedObject: e.Regarding, Reason: e.Reason, Message: e.Note,
		Source: e.DeprecatedSource, FirstTimestamp: e.DeprecatedFirstTimestamp, LastTimestamp: e.DeprecatedLastTimestamp,
		Count: e.DeprecatedCount, Type: e.Type, EventTime: e.EventTime, Action: e.Action, Related: e.Related,
		ReportingController: e.ReportingController, ReportingInstance: e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

// EventFromCore is a core/v1 event in its events.k8s.io/v1 form.
func EventFromCore(in *corev1.Event) *eventsv1.Event {
	e := in.DeepCopy()
	out := &eventsv1.Event{
		ObjectMeta: e.ObjectMeta, Regarding: e.InvolvedObject, Reason: e.Reason, Note: e.Message,
		DeprecatedSource: e.Source, DeprecatedFirstTimestamp: e.FirstTimestamp, DeprecatedLastTimestamp: e.LastTimestamp,
		DeprecatedCount: e.Count, Type: e.Type, EventTime: e.EventTime, Action: e.Action, Related: e.Related,
		ReportingController: e.ReportingController, ReportingInstance: e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}

// eventMetaErrs is the generic metadata check every create and update
// gets upstream after the resource's own validation: names are path
// segments.
func eventMetaErrs(e *corev1.Event) field.ErrorList {
	return apivalidation.ValidateObjectMeta(&e.ObjectMeta, true, path.ValidatePathSegmentName, metadataPath)
}

// legacyEventErrs is upstream's legacyValidateEvent, the only check of
// events written through core/v1.
func legacyEventErrs(e *corev1.Event) field.ErrorList {
	var errs field.ErrorList
	nsMismatch := func() {
		errs = append(errs, field.Invalid(field.NewPath("involvedObject", "namespace"), e.InvolvedObject.Namespace, "does not match event.namespace"))
	}
	if e.EventTime.IsZero() {
		if e.InvolvedObject.Namespace == "" {
			if e.Namespace != metav1.NamespaceNone && e.Namespace != metav1.NamespaceDefault {
				nsMismatch()
			}
		} else if e.Namespace != e.InvolvedObject.Namespace {
			nsMismatch()
		}
	} else {
		if e.InvolvedObject.Namespace == "" && e.Namespace != metav1.NamespaceDefault && e.Namespace != metav1.NamespaceSystem {
			nsMismatch()
		}
		if e.ReportingController == "" {
			errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
		}
		errs = append(errs, validateQualifiedName(e.ReportingController, field.NewPath("reportingController"))...)
		errs = append(errs, eventLengthErrs("reportingInstance", e.ReportingInstance, eventReportingInstanceLimit, true)...)
		errs = append(errs, eventLengthErrs("action", e.Action, eventActionLimit, true)...)
		errs = append(errs, eventLengthErrs("reason", e.Reason, eventReasonLimit, true)...)
		errs = append(errs, eventLengthErrs("message", e.Message, eventNoteLimit, false)...)
	}
	for _, msg := range validation.IsDNS1123Subdomain(e.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), e.Namespace, msg))
	}
	return errs
}

func eventLengthErrs(name, value string, limit int, required bool) field.ErrorList {
	var errs field.ErrorList
	if required && value == "" {
		errs = append(errs, field.Required(field.NewPath(name), ""))
	}
	if len(value) > limit {
		errs = append(errs, field.Invalid(field.NewPath(name), "", fmt.Sprintf("can have at most %v characters", limit)))
	}
	return errs
}

func eventSeriesErrs(e *corev1.Event) field.ErrorList {
	if e.Series == nil {
		return nil
	}
	var errs field.ErrorList
	if e.Series.Count < 2 {
		errs = append(errs, field.Invalid(field.NewPath("series.count"), "", "should be at least 2"))
	}
	if e.Series.LastObservedTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("series.lastObservedTime"), ""))
	}
	return errs
}

func sameEventSeries(a, b *corev1.EventSeries) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Count == b.Count && a.LastObservedTime.Equal(&b.LastObservedTime)
}

// coreEventFields are upstream's selectable fields of an event.
func coreEventFields(e *corev1.Event) fields.Set {
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	o := e.InvolvedObject
	return fields.Set{
		"involvedObject.kind": o.Kind, "involvedObject.namespace": o.Namespace, "involvedObject.name": o.Name,
		"involvedObject.uid": string(o.UID), "involvedObject.apiVersion": o.APIVersion,
		"involvedObject.resourceVersion": o.ResourceVersion, "involvedObject.fieldPath": o.FieldPath,
		"reason": e.Reason, "reportingComponent": e.ReportingController, "source": source, "type": e.Type,
	}
}

var eventColumns = []metav1.TableColumnDefinition{
	{Name: "Last Seen", Type: "string", Description: corev1.Event{}.SwaggerDoc()["lastTimestamp"]},
	{Name: "Type", Type: "string", Description: corev1.Event{}.SwaggerDoc()["type"]},
	{Name: "Reason", Type: "string", Description: corev1.Event{}.SwaggerDoc()["reason"]},
	{Name: "Object", Type: "string", Description: corev1.Event{}.SwaggerDoc()["involvedObject"]},
	{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
	{Name: "Source", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["source"]},
	{Name: "Message", Type: "string", Description: corev1.Event{}.SwaggerDoc()["message"]},
	{Name: "First Seen", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["firstTimestamp"]},
	{Name: "Count", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["count"]},
	{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
}

// eventCells is upstream's printEvent (wide): new-style events have no
// first/last timestamps or count, so eventTime and series stand in.
func eventCells(e *corev1.Event) []any {
	first := sinceTime(e.FirstTimestamp.Time)
	if e.FirstTimestamp.IsZero() {
		first = sinceTime(e.EventTime.Time)
	}
	last := sinceTime(e.LastTimestamp.Time)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last, count = sinceTime(e.Series.LastObservedTime.Time), e.Series.Count
	} else if count == 0 {
		count = 1
	}
	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target += "/" + e.InvolvedObject.Name
	}
	component, instance := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	source := component
	if instance != "" {
		source += ", " + instance
	}
	return []any{last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), first, int64(count), e.Name}
}

// sinceTime is upstream's translateTimestampSince.
func sinceTime(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t))
}
