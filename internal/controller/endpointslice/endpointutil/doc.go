// Package endpointutil holds what the endpoints and EndpointSlice
// controllers share, as upstream shares k8s.io/endpointslice/util: which
// pods belong in a service's endpoints, how a service port resolves to a
// pod's port, which services a pod change concerns, and the
// last-change-trigger-time bookkeeping.
package endpointutil
