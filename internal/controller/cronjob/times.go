package cronjob

import (
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

// nextScheduleDelta pads each requeue so a slightly early timer (NTP
// skew) still finds the scheduled time passed (upstream: 100 ms).
const nextScheduleDelta = 100 * time.Millisecond

// tooManyMissed is upstream's threshold for the TooManyMissedTimes
// warning: more missed starts than a controller outage of a long weekend
// would explain for an hourly job.
const tooManyMissed = 100

type missed int

const (
	noneMissed missed = iota
	fewMissed
	manyMissed
)

// formatSchedule is the schedule handed to the parser: spec.timeZone
// becomes a TZ= prefix; a TZ in the schedule itself is used as written
// but warned about, as upstream.
func formatSchedule(cj *batchv1.CronJob, rec record.EventRecorder) string {
	if strings.Contains(cj.Spec.Schedule, "TZ") {
		if rec != nil {
			rec.Eventf(cj, corev1.EventTypeWarning, "UnsupportedSchedule",
				"CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
				cj.Spec.Schedule)
		}
		return cj.Spec.Schedule
	}
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return cj.Spec.Schedule
		}
		return fmt.Sprintf("TZ=%s %s", *cj.Spec.TimeZone, cj.Spec.Schedule)
	}
	return cj.Spec.Schedule
}

// mostRecentScheduleTime returns the time scheduling counts from (last
// schedule, else creation, moved up to the starting deadline when asked),
// the latest scheduled time not after now (nil if none), and how many
// were missed. The count is upstream's estimate: the interval between the
// first two activations fitted into the elapsed time.
func mostRecentScheduleTime(cj *batchv1.CronJob, now time.Time, sched Schedule, withDeadline bool) (time.Time, *time.Time, missed, error) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		deadline := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second)
		if deadline.After(earliest) {
			earliest = deadline
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, noneMissed, nil
	}
	if now.Before(t2) {
		return earliest, &t1, noneMissed, nil
	}
	// "59 23 31 2 *" parses but never fires: Next gives zero times.
	between := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if between < 1 {
		return earliest, nil, noneMissed, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	elapsed := int64(now.Sub(t1).Seconds())
	n := elapsed/between + 1
	// Start a little before the estimate and let the schedule find the
	// exact last activation (schedules need not be regular).
	var recent time.Time
	from := t1.Add(time.Duration((n-2)*between) * time.Second)
	for t := sched.Next(from); !t.After(now) && !t.IsZero(); t = sched.Next(t) {
		recent = t
	}
	m := fewMissed
	if n > tooManyMissed {
		m = manyMissed
	}
	if recent.IsZero() {
		return earliest, nil, m, nil
	}
	return earliest, &recent, m, nil
}

// nextScheduleTime is the unmet scheduled time to run now, if any; it
// warns when too many were missed.
func (c *Controller) nextScheduleTime(cj *batchv1.CronJob, now time.Time, sched Schedule) (*time.Time, error) {
	_, recent, m, err := mostRecentScheduleTime(cj, now, sched, true)
	if recent == nil || recent.After(now) {
		return nil, err
	}
	if m == manyMissed {
		c.recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
		c.log.Info("too many missed times", "cronjob", cj.Namespace+"/"+cj.Name)
	}
	return recent, err
}

// nextScheduleDuration is how long until just after the next activation.
func nextScheduleDuration(cj *batchv1.CronJob, now time.Time, sched Schedule) *time.Duration {
	earliest, recent, m, err := mostRecentScheduleTime(cj, now, sched, false)
	switch {
	case err != nil:
		recent = &now
	case recent == nil && m == noneMissed:
		recent = &earliest
	case recent == nil:
		recent = &now
	}
	next := sched.Next(*recent)
	if next.IsZero() {
		return nil // never again
	}
	d := next.Add(nextScheduleDelta).Sub(now)
	return &d
}

// jobName is "<cronjob>-<scheduled time in minutes since the epoch>": the
// name is the lock that keeps one scheduled time from running twice.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
