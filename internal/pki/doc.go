// Package pki makes and keeps the cluster's certificates: one CA in the data
// dir that signs the API server's serving certificate and every client
// certificate (users and, later, nodes), and the admin kubeconfig that
// carries one of them.
//
// Keys are ECDSA P-256: a key is made in well under a millisecond, so a
// fresh data dir is ready at once, and every Kubernetes client accepts them.
package pki
