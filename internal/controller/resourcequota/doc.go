// Package resourcequota is upstream's resource quota controller: it
// keeps every ResourceQuota's status.hard equal to its spec.hard and
// recounts status.used from the objects that exist in its namespace.
//
// The API server's admission raises status.used as objects are created
// (internal/apiserver/admission_quota.go); this controller counts a new
// quota for the first time, follows spec changes, and gives back what
// deleted objects and finished pods used (upstream's replenishment). It
// does not recount on object creation, since its caches may lag behind
// admission's charges and would briefly lower status.used. A full recount
// of every quota runs every ResyncPeriod. Both sides count with package
// usage, so they agree on what an object costs.
package resourcequota
