// Package rootcacert is upstream's root-ca-cert-publisher: it keeps the
// ConfigMap kube-root-ca.crt, holding the cluster CA bundle under ca.crt,
// in every active namespace, so that pods (through projected
// service-account volumes) can verify the API server. A copy that is
// deleted or edited is restored.
package rootcacert
