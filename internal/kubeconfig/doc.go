// Package kubeconfig puts a cluster's admin kubeconfig into the user's
// own kubeconfig file, as kind and minikube do: one context (with its
// cluster and user of the same name) is added or replaced and made
// current, everything else in the file is kept, and the file as it was
// is kept beside it as a backup. Remove takes the entries out again.
package kubeconfig
