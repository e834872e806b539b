// Package apiserver is mini's Kubernetes API: the HTTPS front that routes
// requests, authenticates and authorizes them, and serves discovery and the
// REST verbs of every resource in the registry on top of the store.
//
// Objects are kept in the store as protobuf, the way kube-apiserver keeps
// them in etcd, under /registry/<group>/<resource>/<namespace>/<name> (the
// core group is spelled "core"). An object's resourceVersion is its key's
// modify revision: it is set on every object read and never stored.
package apiserver
