package registry

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func testJobTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{Name: "pi", Image: "perl:5.34"}}}}
}

// createdJob is a job as the server stores it: defaulted and prepared.
func createdJob(mutate ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: testMeta("pi", "default"), Spec: batchv1.JobSpec{Template: testJobTemplate()}}
	for _, m := range mutate {
		m(j)
	}
	Jobs().Default(j)
	Jobs().PrepareForCreate(j)
	return j
}

func TestJobDefaultsAndSelector(t *testing.T) {
	j := createdJob()
	s := j.Spec
	if *s.Completions != 1 || *s.Parallelism != 1 || *s.BackoffLimit != 6 || *s.CompletionMode != batchv1.NonIndexedCompletion ||
		*s.Suspend || *s.PodReplacementPolicy != batchv1.TerminatingOrFailed || *s.ManualSelector {
		t.Errorf("defaults: %+v", s)
	}
	wantLabels := map[string]string{"job-name": "pi", "batch.kubernetes.io/job-name": "pi", "controller-uid": "u1", "batch.kubernetes.io/controller-uid": "u1"}
	for k, v := range wantLabels {
		if s.Template.Labels[k] != v || j.Labels[k] != v {
			t.Errorf("label %s: template %q, job %q", k, s.Template.Labels[k], j.Labels[k])
		}
	}
	if len(s.Selector.MatchLabels) != 1 || s.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != "u1" {
		t.Errorf("selector %v", s.Selector)
	}
	if errs := Jobs().Validate(j); len(errs) > 0 {
		t.Fatal(errs)
	}
	gen := createdJob(func(j *batchv1.Job) { j.Name, j.GenerateName = "", "pi-" })
	if !strings.HasPrefix(gen.Name, "pi-") || gen.Spec.Template.Labels["job-name"] != gen.Name || len(Jobs().Validate(gen)) > 0 {
		t.Errorf("generated name %q, labels %v", gen.Name, gen.Spec.Template.Labels)
	}
}

func TestJobValidation(t *testing.T) {
	old := createdJob()
	changed := func(mutate func(*batchv1.Job)) *batchv1.Job {
		j := old.DeepCopy()
		mutate(j)
		return j
	}
	runValidation(t, Jobs(), []validationCase{
		{name: "valid", obj: old},
		{name: "restart always", obj: changed(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
			want: []string{"FieldValueRequired spec.template.spec.restartPolicy"}},
		{name: "foreign selector", obj: changed(func(j *batchv1.Job) { j.Spec.Selector.MatchLabels = map[string]string{"app": "x"} }),
			want: []string{"FieldValueInvalid spec.selector", "FieldValueInvalid spec.template.metadata.labels"}},
		{name: "negative backoff", obj: changed(func(j *batchv1.Job) { j.Spec.BackoffLimit = ptr.To[int32](-1) }),
			want: []string{"FieldValueInvalid spec.backoffLimit"}},
		{name: "indexed without completions", obj: changed(func(j *batchv1.Job) {
			j.Spec.CompletionMode, j.Spec.Completions = ptr.To(batchv1.IndexedCompletion), nil
		}), want: []string{"FieldValueRequired spec.completions"}},
		{name: "parallelism raised", old: old, obj: changed(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](3) })},
		{name: "suspended", old: old, obj: changed(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })},
		{name: "template changed", old: old, obj: changed(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" }),
			want: []string{"FieldValueInvalid spec.template"}},
		{name: "completions changed", old: old, obj: changed(func(j *batchv1.Job) { j.Spec.Completions = ptr.To[int32](2) }),
			want: []string{"FieldValueInvalid spec.completions"}},
		{name: "suspended job never run may move", old: changed(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }),
			obj: changed(func(j *batchv1.Job) {
				j.Spec.Suspend = ptr.To(true)
				j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
			})},
		{name: "succeeded counter fell", old: changed(func(j *batchv1.Job) { j.Status.Succeeded = 2 }),
			obj: changed(func(j *batchv1.Job) { j.Status.Succeeded = 1 }), want: []string{"FieldValueInvalid status.succeeded"}},
	})
}

func TestJobTable(t *testing.T) {
	start := metav1.NewTime(time.Now().Add(-90 * time.Second))
	done := metav1.NewTime(start.Add(30 * time.Second))
	cases := []struct {
		name                          string
		spec, status                  func(*batchv1.Job)
		wantStatus, completions, took string
	}{
		{"running", nil, func(j *batchv1.Job) { j.Status.StartTime = &start }, "Running", "0/1", "90s"},
		{"complete", nil, func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{Succeeded: 1, StartTime: &start, CompletionTime: &done,
				Conditions: []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}
		}, "Complete", "1/1", "30s"},
		{"parallel without completions", func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](3) }, nil, "Running", "0/1 of 3", ""},
		{"suspended", nil, func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: corev1.ConditionTrue}}
		}, "Suspended", "0/1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var j *batchv1.Job
			if tc.spec != nil {
				j = createdJob(tc.spec)
			} else {
				j = createdJob()
			}
			if tc.status != nil {
				tc.status(j)
			}
			cells := Jobs().Cells(j)
			if cells[1] != tc.wantStatus || cells[2] != tc.completions || cells[3] != tc.took {
				t.Errorf("cells %v", cells)
			}
		})
	}
}

func TestCronSchedule(t *testing.T) {
	for spec, want := range map[string]string{
		"*/5 * * * *":          "",
		"0 3 * * mon-fri":      "",
		"0 0 1 jan,jul *":      "",
		"@hourly":              "",
		"@every 1h30m":         "",
		"* * * *":              "expected exactly 5 fields, found 4: [* * * *]",
		"60 * * * *":           "end of range (60) above maximum (59): 60",
		"0 0 0 * *":            "beginning of range (0) below minimum (1): 0",
		"0 0 * * 7":            "end of range (7) above maximum (6): 7",
		"x * * * *":            `failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax`,
		"5-1 * * * *":          "beginning of range (5) beyond end of range (1): 5-1",
		"*/0 * * * *":          "step of range should be a positive number: */0",
		"@fortnightly":         "unrecognized descriptor: @fortnightly",
		"1-2-3 * * * *":        "too many hyphens: 1-2-3",
		"TZ=Nowhere 0 * * * *": "provided bad location Nowhere: unknown time zone Nowhere",
	} {
		t.Run(spec, func(t *testing.T) {
			err := parseCronSchedule(spec)
			if got := ""; err != nil {
				got = err.Error()
				if got != want {
					t.Errorf("error %q, want %q", got, want)
				}
			} else if want != "" {
				t.Errorf("no error, want %q", want)
			}
		})
	}
}

func TestCronJobDefaultsAndValidation(t *testing.T) {
	cj := func(mutate ...func(*batchv1.CronJob)) *batchv1.CronJob {
		c := &batchv1.CronJob{ObjectMeta: testMeta("backup", "default"), Spec: batchv1.CronJobSpec{Schedule: "0 * * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: testJobTemplate()}}}}
		for _, m := range mutate {
			m(c)
		}
		return c
	}
	c := cj()
	CronJobs().Default(c)
	if c.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *c.Spec.Suspend || *c.Spec.SuccessfulJobsHistoryLimit != 3 ||
		*c.Spec.FailedJobsHistoryLimit != 1 || c.Spec.JobTemplate.Spec.BackoffLimit != nil ||
		c.Spec.JobTemplate.Spec.Template.Spec.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("defaults: %+v", c.Spec)
	}
	cells := CronJobs().Cells(c)
	if cells[1] != "0 * * * *" || cells[2] != "<none>" || cells[3] != "False" || cells[4] != int64(0) || cells[5] != "<none>" {
		t.Errorf("cells %v", cells)
	}
	runValidation(t, CronJobs(), []validationCase{
		{name: "valid", obj: cj()},
		{name: "bad schedule", obj: cj(func(c *batchv1.CronJob) { c.Spec.Schedule = "every hour" }), want: []string{"FieldValueInvalid spec.schedule"}},
		{name: "TZ in schedule", obj: cj(func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC 0 * * * *" }), want: []string{"FieldValueInvalid spec.schedule"}},
		{name: "unknown time zone", obj: cj(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus") }), want: []string{"FieldValueInvalid spec.timeZone"}},
		{name: "selector in template", obj: cj(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{} }),
			want: []string{"FieldValueInvalid spec.jobTemplate.spec.selector"}},
		{name: "restart always", obj: cj(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "" }),
			want: []string{"FieldValueRequired spec.jobTemplate.spec.template.spec.restartPolicy"}},
		{name: "long name", obj: cj(func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 53) }), want: []string{"FieldValueInvalid metadata.name"}},
		{name: "bad policy", obj: cj(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Sometimes" }),
			want: []string{"FieldValueNotSupported spec.concurrencyPolicy"}},
	})
}
