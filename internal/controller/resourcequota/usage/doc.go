// Package usage is how objects are charged to ResourceQuotas, as
// upstream's quota evaluators (pkg/quota/v1/evaluator/core) count them. It
// is shared by the API server's ResourceQuota admission, which charges a
// new object before it is stored, and the resourcequota controller, which
// recounts everything that exists, so both always agree.
package usage
