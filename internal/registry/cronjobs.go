package registry

import (
	"regexp"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// maxCronJobNameLength leaves room for the 11 characters the controller
// appends to name each job.
const maxCronJobNameLength = 63 - 11

// CronJobs as upstream serves them in batch/v1. The job template's pod
// template gets pod defaults but the job template itself is not defaulted
// (its jobs are, when created).
func CronJobs() *Resource {
	return &Resource{
		GVR:          batchv1.SchemeGroupVersion.WithResource("cronjobs"),
		Kind:         "CronJob",
		SingularName: "cronjob",
		Namespaced:   true,
		ShortNames:   []string{"cj"},
		Categories:   []string{"all"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &batchv1.CronJob{} },
		NewList:      func() runtime.Object { return &batchv1.CronJobList{} },
		Default: func(obj runtime.Object) {
			s := &obj.(*batchv1.CronJob).Spec
			if s.ConcurrencyPolicy == "" {
				s.ConcurrencyPolicy = batchv1.AllowConcurrent
			}
			if s.Suspend == nil {
				s.Suspend = ptr.To(false)
			}
			if s.SuccessfulJobsHistoryLimit == nil {
				s.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
			}
			if s.FailedJobsHistoryLimit == nil {
				s.FailedJobsHistoryLimit = ptr.To[int32](1)
			}
			defaultPodTemplate(&s.JobTemplate.Spec.Template)
		},
		PrepareForCreate: func(obj runtime.Object) { obj.(*batchv1.CronJob).Status = batchv1.CronJobStatus{} },
		PrepareForUpdate: splitSpecStatus,
		Validate: func(obj runtime.Object) field.ErrorList {
			c := obj.(*batchv1.CronJob)
			errs := validateKubeMeta(&c.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
			errs = append(errs, validateCronJobSpec(&c.Spec, nil, field.NewPath("spec"))...)
			if len(c.Name) > maxCronJobNameLength {
				errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Name, "must be no more than 52 characters"))
			}
			return errs
		},
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			c, prev := obj.(*batchv1.CronJob), old.(*batchv1.CronJob)
			errs := validateKubeMetaUpdate(&c.ObjectMeta, &prev.ObjectMeta)
			return append(errs, validateCronJobSpec(&c.Spec, &prev.Spec, field.NewPath("spec"))...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*batchv1.CronJob).Spec, old.(*batchv1.CronJob).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Schedule", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["schedule"]},
			{Name: "Timezone", Type: "string", Description: batchv1.CronJobSpec{}.SwaggerDoc()["timeZone"]},
			{Name: "Suspend", Type: "boolean", Description: batchv1.CronJobSpec{}.SwaggerDoc()["suspend"]},
			{Name: "Active", Type: "integer", Description: batchv1.CronJobStatus{}.SwaggerDoc()["active"]},
			{Name: "Last Schedule", Type: "string", Description: batchv1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]},
			ageColumn, containersColumn, imagesColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any {
			c := obj.(*batchv1.CronJob)
			last := "<none>"
			if t := c.Status.LastScheduleTime; t != nil {
				last = translateTimestampSince(*t)
			}
			suspend := "<unset>"
			if c.Spec.Suspend != nil {
				suspend = "False"
				if *c.Spec.Suspend {
					suspend = "True"
				}
			}
			names, images := containerCells(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
			return []any{c.Name, c.Spec.Schedule, ptr.Deref(c.Spec.TimeZone, "<none>"), suspend, int64(len(c.Status.Active)), last,
				age(c), names, images, metav1.FormatLabelSelector(c.Spec.JobTemplate.Spec.Selector)}
		},
	}
}

// translateTimestampSince is a timestamp as upstream's printers show an
// age: "5m", "<unknown>" for the zero time.
func translateTimestampSince(t metav1.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(time.Since(t.Time))
}

// validTimeZoneCharacters are the characters of one part of an IANA name.
var validTimeZoneCharacters = regexp.MustCompile(`^[A-Za-z\.\-_0-9+]{1,14}$`)

func validateCronJobSpec(spec, old *batchv1.CronJobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	sp := path.Child("schedule")
	if spec.Schedule == "" {
		errs = append(errs, field.Required(sp, ""))
	} else {
		if err := parseCronSchedule(spec.Schedule); err != nil {
			errs = append(errs, field.Invalid(sp, spec.Schedule, err.Error()))
		}
		allowTZ := old != nil && strings.Contains(old.Schedule, "TZ")
		switch {
		case allowTZ && strings.Contains(spec.Schedule, "TZ") && spec.TimeZone != nil:
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
		case !allowTZ && strings.Contains(spec.Schedule, "TZ"):
			errs = append(errs, field.Invalid(sp, spec.Schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
		}
	}
	if d := spec.StartingDeadlineSeconds; d != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*d, path.Child("startingDeadlineSeconds"))...)
	}
	if old == nil || !ptr.Equal(old.TimeZone, spec.TimeZone) {
		errs = append(errs, validateTimeZone(spec.TimeZone, path.Child("timeZone"))...)
	}
	errs = append(errs, validateEnum(spec.ConcurrencyPolicy, path.Child("concurrencyPolicy"),
		batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)...)
	jt := path.Child("jobTemplate")
	errs = append(errs, validateJobTemplateSpec(&spec.JobTemplate.Spec, jt.Child("spec"))...)
	if spec.JobTemplate.Spec.Selector != nil {
		errs = append(errs, field.Invalid(jt.Child("spec", "selector"), spec.JobTemplate.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptr.Deref(spec.JobTemplate.Spec.ManualSelector, false) {
		errs = append(errs, field.NotSupported(jt.Child("spec", "manualSelector"), spec.JobTemplate.Spec.ManualSelector, []string{"nil", "false"}))
	}
	errs = append(errs, validateOptionalNonnegative(spec.SuccessfulJobsHistoryLimit, path.Child("successfulJobsHistoryLimit"))...)
	return append(errs, validateOptionalNonnegative(spec.FailedJobsHistoryLimit, path.Child("failedJobsHistoryLimit"))...)
}

func validateTimeZone(tz *string, path *field.Path) field.ErrorList {
	if tz == nil {
		return nil
	}
	if *tz == "" {
		return field.ErrorList{field.Invalid(path, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(*tz, "/") {
		if part == "." || part == ".." || strings.HasPrefix(part, "-") || !validTimeZoneCharacters.MatchString(part) {
			return field.ErrorList{field.Invalid(path, tz, "unknown time zone "+*tz)}
		}
	}
	if strings.EqualFold(*tz, "Local") {
		return field.ErrorList{field.Invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")}
	}
	if _, err := time.LoadLocation(*tz); err != nil {
		return field.ErrorList{field.Invalid(path, tz, err.Error())}
	}
	return nil
}
