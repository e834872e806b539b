// Package serviceaccount is upstream's serviceaccounts-controller: it
// makes sure every active namespace has the ServiceAccount "default"
// (which pods without spec.serviceAccountName run as), creating it when a
// namespace appears and again whenever it is deleted.
package serviceaccount
