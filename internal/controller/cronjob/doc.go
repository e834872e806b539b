// Package cronjob is upstream's CronJob controller (pkg/controller/cronjob,
// the v2 controller): it creates a Job from spec.jobTemplate at each time
// the schedule names, honouring spec.timeZone, startingDeadlineSeconds,
// concurrencyPolicy and suspend, keeps status.active, lastScheduleTime
// and lastSuccessfulTime, and deletes finished Jobs beyond the history
// limits. Instead of polling, each sync asks the work queue to come back
// (AddAfter, on the injected clock) just after the next scheduled time.
package cronjob
