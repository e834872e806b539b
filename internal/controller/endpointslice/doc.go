// Package endpointslice is upstream's EndpointSlice controller
// (pkg/controller/endpointslice): for every Service with a selector it
// keeps EndpointSlices (named "<service>-<random>", labelled
// kubernetes.io/service-name and managed-by endpointslice-controller.k8s.io,
// owned by the Service) listing each matching pod once per address
// family, with ready/serving/terminating conditions, node, zone, hostname
// and the service ports resolved on the pod. Slices hold at most 100
// endpoints and are updated in place where possible, so a change to one
// pod rewrites one slice. The service proxy and cluster DNS read these.
package endpointslice
