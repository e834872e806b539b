package registry

import (
	"fmt"
	"math"
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// The unprefixed labels the job controller has always put on its pods;
// upstream keeps them beside the batch.kubernetes.io ones.
const (
	legacyJobNameLabel       = "job-name"
	legacyControllerUIDLabel = "controller-uid"
)

// Jobs as upstream serves them in batch/v1. Unless the user asks for a
// manual selector, the server labels the pod template with the job's name
// and uid and selects on the uid; the template is then immutable (but for
// scheduling directives of a suspended job that never ran).
func Jobs() *Resource {
	return &Resource{
		GVR:          batchv1.SchemeGroupVersion.WithResource("jobs"),
		Kind:         "Job",
		SingularName: "job",
		Namespaced:   true,
		Categories:   []string{"all"},
		Subresources: []string{"status"},
		New:          func() runtime.Object { return &batchv1.Job{} },
		NewList:      func() runtime.Object { return &batchv1.JobList{} },
		Default:      func(obj runtime.Object) { defaultJob(obj.(*batchv1.Job)) },
		PrepareForCreate: func(obj runtime.Object) {
			j := obj.(*batchv1.Job)
			if j.Name == "" && j.GenerateName != "" {
				// The generated name goes into the template's labels, so it
				// must exist before they are generated.
				j.Name = generatedJobName(j.GenerateName)
			}
			if !ptr.Deref(j.Spec.ManualSelector, false) {
				generateJobSelector(j)
			}
			if len(j.Labels) == 0 && len(j.Spec.Template.Labels) > 0 {
				j.Labels = labels.Merge(nil, j.Spec.Template.Labels)
			}
			j.Status = batchv1.JobStatus{}
		},
		PrepareForUpdate: splitSpecStatus,
		Validate:         func(obj runtime.Object) field.ErrorList { return validateJob(obj.(*batchv1.Job), true) },
		ValidateUpdate: func(obj, old runtime.Object) field.ErrorList {
			j, prev := obj.(*batchv1.Job), old.(*batchv1.Job)
			_, hadName := prev.Spec.Template.Labels[batchv1.JobNameLabel]
			_, hadUID := prev.Spec.Template.Labels[batchv1.ControllerUidLabel]
			errs := validateJob(j, hadName && hadUID)
			errs = append(errs, validateKubeMetaUpdate(&j.ObjectMeta, &prev.ObjectMeta)...)
			errs = append(errs, validateJobSpecUpdate(j, prev)...)
			return append(errs, validateJobStatusUpdate(j, prev)...)
		},
		SpecChanged: func(obj, old runtime.Object) bool {
			return !equality.Semantic.DeepEqual(obj.(*batchv1.Job).Spec, old.(*batchv1.Job).Spec)
		},
		Columns: []metav1.TableColumnDefinition{
			nameColumn,
			{Name: "Status", Type: "string", Description: "Status of the job."},
			{Name: "Completions", Type: "string", Description: batchv1.JobStatus{}.SwaggerDoc()["succeeded"]},
			{Name: "Duration", Type: "string", Description: "Time required to complete the job."},
			ageColumn, containersColumn, imagesColumn,
			{Name: "Selector", Type: "string", Priority: 1, Description: batchv1.JobSpec{}.SwaggerDoc()["selector"]},
		},
		Cells: func(obj runtime.Object) []any { return jobCells(obj.(*batchv1.Job)) },
		Fields: func(obj runtime.Object) fields.Set {
			return fields.Set{"status.successful": strconv.Itoa(int(obj.(*batchv1.Job).Status.Succeeded))}
		},
	}
}

// generatedJobName is upstream's name generator: the base cut to leave
// room for five random characters.
func generatedJobName(base string) string {
	const maxBase = 63 - 5
	if len(base) > maxBase {
		base = base[:maxBase]
	}
	return base + utilrand.String(5)
}

// defaultJob is batch/v1 SetDefaults_Job and the template's pod defaults.
func defaultJob(j *batchv1.Job) {
	s := &j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = ptr.To[int32](1)
		s.Parallelism = ptr.To[int32](1)
	}
	if s.Parallelism == nil {
		s.Parallelism = ptr.To[int32](1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			s.BackoffLimit = ptr.To[int32](6)
		}
	}
	if len(j.Labels) == 0 && len(s.Template.Labels) > 0 {
		j.Labels = labels.Merge(nil, s.Template.Labels)
	}
	if s.CompletionMode == nil {
		s.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = ptr.To(false)
	}
	if s.PodFailurePolicy != nil {
		for _, rule := range s.PodFailurePolicy.Rules {
			for i := range rule.OnPodConditions {
				if rule.OnPodConditions[i].Status == "" {
					rule.OnPodConditions[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	if s.PodReplacementPolicy == nil {
		if s.PodFailurePolicy != nil {
			s.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			s.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	if s.ManualSelector == nil {
		s.ManualSelector = ptr.To(false)
	}
	defaultPodTemplate(&s.Template)
}

// generateJobSelector labels the template with the job's name and uid
// (both the legacy and the batch.kubernetes.io keys) and selects the uid.
func generateJobSelector(j *batchv1.Job) {
	t := &j.Spec.Template
	if t.Labels == nil {
		t.Labels = map[string]string{}
	}
	for _, k := range []string{legacyJobNameLabel, batchv1.JobNameLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = j.Name
		}
	}
	for _, k := range []string{legacyControllerUIDLabel, batchv1.ControllerUidLabel} {
		if _, ok := t.Labels[k]; !ok {
			t.Labels[k] = string(j.UID)
		}
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &metav1.LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel]; !ok {
		j.Spec.Selector.MatchLabels[batchv1.ControllerUidLabel] = string(j.UID)
	}
}

// validateJob is upstream's ValidateJob; prefixed says whether the
// batch.kubernetes.io labels are required on the template.
func validateJob(j *batchv1.Job, prefixed bool) field.ErrorList {
	errs := validateKubeMeta(&j.ObjectMeta, true, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateGeneratedSelector(j, prefixed)...)
	errs = append(errs, validateJobSpec(&j.Spec, field.NewPath("spec"))...)
	if ptr.Deref(j.Spec.CompletionMode, "") == batchv1.IndexedCompletion && ptr.Deref(j.Spec.Completions, 0) > 0 {
		hostname := fmt.Sprintf("%s-%d", j.Name, *j.Spec.Completions-1)
		if len(validateDNSLabel(hostname, nil)) > 0 {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), j.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", hostname)))
		}
	}
	return errs
}

// validateGeneratedSelector checks that a generated selector and the
// template's labels are the ones the server generated.
func validateGeneratedSelector(j *batchv1.Job, prefixed bool) field.ErrorList {
	if ptr.Deref(j.Spec.ManualSelector, false) || j.Spec.Selector == nil {
		return nil
	}
	var errs field.ErrorList
	if j.UID == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	meta := field.NewPath("spec", "template", "metadata")
	want := map[string]string{legacyControllerUIDLabel: string(j.UID), legacyJobNameLabel: j.Name}
	keys := []string{legacyControllerUIDLabel, legacyJobNameLabel}
	if prefixed {
		want[batchv1.ControllerUidLabel], want[batchv1.JobNameLabel] = string(j.UID), j.Name
		keys = append(keys, batchv1.ControllerUidLabel, batchv1.JobNameLabel)
	}
	for _, k := range keys {
		v, ok := j.Spec.Template.Labels[k]
		switch {
		case !ok:
			errs = append(errs, field.Required(meta.Child("labels").Key(k), fmt.Sprintf("must be '%s'", want[k])))
		case v != want[k]:
			errs = append(errs, field.Invalid(meta.Child("labels").Key(k), j.Spec.Template.Labels, fmt.Sprintf("must be '%s'", want[k])))
		}
	}
	if s, err := metav1.LabelSelectorAsSelector(j.Spec.Selector); err == nil && !s.Matches(labels.Set(want)) {
		errs = append(errs, field.Invalid(field.NewPath("spec", "selector"), j.Spec.Selector, "`selector` not auto-generated"))
	}
	return errs
}

// validateJobSpec is upstream's ValidateJobSpec: the job template checks
// plus a selector matching the template.
func validateJobSpec(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	errs := validateJobTemplateSpec(spec, path)
	if spec.Selector == nil {
		errs = append(errs, field.Required(path.Child("selector"), ""))
	} else {
		errs = append(errs, metavalidation.ValidateLabelSelector(spec.Selector, metavalidation.LabelSelectorValidationOptions{}, path.Child("selector"))...)
	}
	if s, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !s.Matches(labels.Set(spec.Template.Labels)) {
		errs = append(errs, field.Invalid(path.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

// validateJobTemplateSpec is upstream's validateJobSpec, shared with cron
// jobs' job templates.
func validateJobTemplateSpec(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, f := range []struct {
		name  string
		value *int32
	}{
		{"parallelism", spec.Parallelism}, {"completions", spec.Completions}, {"backoffLimit", spec.BackoffLimit},
		{"ttlSecondsAfterFinished", spec.TTLSecondsAfterFinished}, {"backoffLimitPerIndex", spec.BackoffLimitPerIndex},
	} {
		errs = append(errs, validateOptionalNonnegative(f.value, path.Child(f.name))...)
	}
	if d := spec.ActiveDeadlineSeconds; d != nil {
		errs = append(errs, apivalidation.ValidateNonnegativeField(*d, path.Child("activeDeadlineSeconds"))...)
	}
	if m := spec.MaxFailedIndexes; m != nil {
		errs = append(errs, validateNonnegative32(*m, path.Child("maxFailedIndexes"))...)
		if spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Required(path.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if m := spec.ManagedBy; m != nil && len(*m) > 63 {
		errs = append(errs, field.TooLongMaxLength(path.Child("managedBy"), *m, 63))
	}
	indexed := ptr.Deref(spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if m := spec.CompletionMode; m != nil {
		if *m != batchv1.NonIndexedCompletion && *m != batchv1.IndexedCompletion {
			errs = append(errs, field.NotSupported(path.Child("completionMode"), spec.CompletionMode, []batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
		}
		if indexed {
			if spec.Completions == nil {
				errs = append(errs, field.Required(path.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
			}
			if p := spec.Parallelism; p != nil && *p > 100000 {
				errs = append(errs, field.Invalid(path.Child("parallelism"), *p, fmt.Sprintf("must be less than or equal to %d when completion mode is %s", 100000, batchv1.IndexedCompletion)))
			}
			if c, m := spec.Completions, spec.MaxFailedIndexes; c != nil && m != nil && *m > *c {
				errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *m, "must be less than or equal to completions"))
			}
		}
	}
	if !indexed {
		if b := spec.BackoffLimitPerIndex; b != nil {
			errs = append(errs, field.Invalid(path.Child("backoffLimitPerIndex"), *b, "requires indexed completion mode"))
		}
		if m := spec.MaxFailedIndexes; m != nil {
			errs = append(errs, field.Invalid(path.Child("maxFailedIndexes"), *m, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		errs = append(errs, validatePodFailurePolicy(spec, path.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil && !indexed {
		errs = append(errs, field.Invalid(path.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
	}
	if r := spec.PodReplacementPolicy; r != nil {
		if spec.PodFailurePolicy != nil {
			if *r != batchv1.Failed {
				errs = append(errs, field.NotSupported(path.Child("podReplacementPolicy"), *r, []batchv1.PodReplacementPolicy{batchv1.Failed}))
			}
		} else if *r != batchv1.Failed && *r != batchv1.TerminatingOrFailed {
			errs = append(errs, field.NotSupported(path.Child("podReplacementPolicy"), *r, []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}))
		}
	}
	errs = append(errs, validatePodTemplateSpec(&spec.Template, path.Child("template"))...)
	rp := path.Child("template", "spec", "restartPolicy")
	switch policy := spec.Template.Spec.RestartPolicy; {
	case policy == corev1.RestartPolicyAlways || policy == "":
		errs = append(errs, field.Required(rp, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case policy != corev1.RestartPolicyOnFailure && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.NotSupported(rp, policy, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && policy != corev1.RestartPolicyNever:
		errs = append(errs, field.Invalid(rp, policy, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return errs
}

func validatePodFailurePolicy(spec *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	rules := path.Child("rules")
	if n := len(spec.PodFailurePolicy.Rules); n > 20 {
		errs = append(errs, field.TooMany(rules, n, 20))
	}
	actions := []batchv1.PodFailurePolicyAction{batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore}
	for i, r := range spec.PodFailurePolicy.Rules {
		p := rules.Index(i)
		errs = append(errs, validateEnum(r.Action, p.Child("action"), actions...)...)
		if r.Action == batchv1.PodFailurePolicyActionFailIndex && spec.BackoffLimitPerIndex == nil {
			errs = append(errs, field.Invalid(p.Child("action"), r.Action, "requires the backoffLimitPerIndex to be set"))
		}
		switch {
		case r.OnExitCodes != nil && r.OnPodConditions != nil:
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
		case r.OnExitCodes == nil && len(r.OnPodConditions) == 0:
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
		}
		if c := r.OnExitCodes; c != nil {
			errs = append(errs, validateEnum(c.Operator, p.Child("onExitCodes", "operator"),
				batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn)...)
			if len(c.Values) == 0 {
				errs = append(errs, field.Required(p.Child("onExitCodes", "values"), "at least one value is required"))
			}
		}
		for j, c := range r.OnPodConditions {
			cp := p.Child("onPodConditions").Index(j)
			errs = append(errs, validateQualifiedName(string(c.Type), cp.Child("type"))...)
			errs = append(errs, validateEnum(c.Status, cp.Child("status"), corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown)...)
		}
	}
	return errs
}

// validateJobSpecUpdate is upstream's ValidateJobSpecUpdate.
func validateJobSpecUpdate(j, prev *batchv1.Job) field.ErrorList {
	spec, old, path := &j.Spec, &prev.Spec, field.NewPath("spec")
	errs := validateJobSpec(spec, path)
	if ptr.Deref(spec.CompletionMode, "") == batchv1.IndexedCompletion {
		if !equality.Semantic.DeepEqual(spec.Completions, old.Completions) && spec.Completions != nil &&
			ptr.Deref(spec.Parallelism, 0) != *spec.Completions {
			errs = append(errs, field.Invalid(path.Child("completions"), spec.Completions, "can only be modified in tandem with spec.parallelism"))
		}
	} else {
		errs = append(errs, apivalidation.ValidateImmutableField(spec.Completions, old.Completions, path.Child("completions"))...)
	}
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Selector, old.Selector, path.Child("selector"))...)
	oldTemplate := old.Template.DeepCopy()
	if ptr.Deref(old.Suspend, false) && prev.Status.StartTime == nil {
		// A suspended job that never ran may still change where it runs.
		t := &spec.Template
		switch {
		case t.Spec.Affinity == nil && oldTemplate.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = nil
			if *oldTemplate.Spec.Affinity == (corev1.Affinity{}) {
				oldTemplate.Spec.Affinity = nil
			}
		case t.Spec.Affinity != nil && oldTemplate.Spec.Affinity == nil:
			oldTemplate.Spec.Affinity = &corev1.Affinity{NodeAffinity: t.Spec.Affinity.NodeAffinity}
		case t.Spec.Affinity != nil:
			oldTemplate.Spec.Affinity.NodeAffinity = t.Spec.Affinity.NodeAffinity
		}
		oldTemplate.Spec.NodeSelector, oldTemplate.Spec.Tolerations = t.Spec.NodeSelector, t.Spec.Tolerations
		oldTemplate.Annotations, oldTemplate.Labels = t.Annotations, t.Labels
		oldTemplate.Spec.SchedulingGates = t.Spec.SchedulingGates
	}
	errs = append(errs, apivalidation.ValidateImmutableField(spec.Template, *oldTemplate, path.Child("template"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.CompletionMode, old.CompletionMode, path.Child("completionMode"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.PodFailurePolicy, old.PodFailurePolicy, path.Child("podFailurePolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.BackoffLimitPerIndex, old.BackoffLimitPerIndex, path.Child("backoffLimitPerIndex"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(spec.ManagedBy, old.ManagedBy, path.Child("managedBy"))...)
	return append(errs, apivalidation.ValidateImmutableField(spec.SuccessPolicy, old.SuccessPolicy, path.Child("successPolicy"))...)
}

// validateJobStatusUpdate checks a job's status as upstream does when it
// changes: counts never negative nor falling, finished stays finished.
func validateJobStatusUpdate(j, prev *batchv1.Job) field.ErrorList {
	st, old, path := &j.Status, &prev.Status, field.NewPath("status")
	errs := validateNonnegative32(st.Active, path.Child("active"))
	errs = append(errs, validateNonnegative32(st.Succeeded, path.Child("succeeded"))...)
	errs = append(errs, validateNonnegative32(st.Failed, path.Child("failed"))...)
	errs = append(errs, validateOptionalNonnegative(st.Ready, path.Child("ready"))...)
	errs = append(errs, validateOptionalNonnegative(st.Terminating, path.Child("terminating"))...)
	if jobCondition(st.Conditions, batchv1.JobComplete) && jobCondition(st.Conditions, batchv1.JobFailed) {
		errs = append(errs, field.Invalid(path.Child("conditions"), field.OmitValueType{}, "cannot set Complete=True and Failed=true conditions"))
	}
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if jobCondition(old.Conditions, t) && !jobCondition(st.Conditions, t) {
			errs = append(errs, field.Invalid(path.Child("conditions"), field.OmitValueType{}, fmt.Sprintf("cannot disable the terminal %s=True condition", t)))
		}
	}
	if st.Failed < old.Failed {
		errs = append(errs, field.Invalid(path.Child("failed"), st.Failed, "cannot decrease the failed counter"))
	}
	indexed := ptr.Deref(j.Spec.CompletionMode, "") == batchv1.IndexedCompletion
	if st.Succeeded < old.Succeeded && (!indexed || !ptr.Equal(j.Spec.Completions, j.Spec.Parallelism)) {
		errs = append(errs, field.Invalid(path.Child("succeeded"), st.Succeeded, "cannot decrease the succeeded counter"))
	}
	if st.CompletionTime != nil && old.CompletionTime != nil && !st.CompletionTime.Equal(old.CompletionTime) {
		errs = append(errs, field.Invalid(path.Child("completionTime"), st.CompletionTime, "completionTime cannot be mutated"))
	}
	return errs
}

func jobCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// jobCells are upstream's printJob cells.
func jobCells(j *batchv1.Job) []any {
	var completions string
	switch p := ptr.Deref(j.Spec.Parallelism, 0); {
	case j.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	case p > 1:
		completions = fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, p)
	default:
		completions = fmt.Sprintf("%d/1", j.Status.Succeeded)
	}
	var took string
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		took = duration.HumanDuration(time.Since(j.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	status := "Running"
	switch c := j.Status.Conditions; {
	case firstJobCondition(c, batchv1.JobComplete):
		status = "Complete"
	case firstJobCondition(c, batchv1.JobFailed):
		status = "Failed"
	case j.DeletionTimestamp != nil:
		status = "Terminating"
	case firstJobCondition(c, batchv1.JobSuspended):
		status = "Suspended"
	case firstJobCondition(c, batchv1.JobFailureTarget):
		status = "FailureTarget"
	}
	names, images := containerCells(j.Spec.Template.Spec.Containers)
	return []any{j.Name, status, completions, took, age(j), names, images, metav1.FormatLabelSelector(j.Spec.Selector)}
}

// firstJobCondition is the printer's reading: the first condition of the
// type decides.
func firstJobCondition(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conds {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
