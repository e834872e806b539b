// Package endpoints is upstream's endpoint controller
// (pkg/controller/endpoint): for every Service with a selector it keeps an
// Endpoints object of the same name listing the matching pods' addresses,
// ready ones under addresses and the rest under notReadyAddresses, with
// the service ports resolved against each pod (a named targetPort may
// differ between pods, which splits the subsets). kubectl get endpoints
// and kubectl describe svc read what it writes; services without a
// selector are left to whoever writes their Endpoints.
package endpoints
